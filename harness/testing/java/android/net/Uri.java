package android.net;

/** Stand-in for android.net.Uri: parse() and toString(), as the WebView hooks use them. */
public abstract class Uri {
    public static Uri parse(final String s) {
        return new Uri() {
            @Override public String toString() { return s; }
        };
    }
}
