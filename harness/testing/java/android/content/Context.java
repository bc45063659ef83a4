package android.content;

/** Stand-in for android.content.Context (only its name matters to the hooks). */
public abstract class Context {
    public abstract String getPackageName();
}
