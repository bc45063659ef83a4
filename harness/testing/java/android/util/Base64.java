package android.util;

/** Stand-in for android.util.Base64 (real signatures; encodeToString calls encode as on Android). */
public class Base64 {
    public static final int DEFAULT = 0;
    public static final int NO_PADDING = 1;
    public static final int NO_WRAP = 2;
    public static final int CRLF = 4;
    public static final int URL_SAFE = 8;

    private Base64() {}

    public static byte[] encode(byte[] input, int flags) {
        return encode(input, 0, input.length, flags);
    }

    public static byte[] encode(byte[] input, int offset, int len, int flags) {
        byte[] part = java.util.Arrays.copyOfRange(input, offset, offset + len);
        java.util.Base64.Encoder enc = (flags & URL_SAFE) != 0
            ? java.util.Base64.getUrlEncoder() : java.util.Base64.getEncoder();
        if ((flags & NO_PADDING) != 0) {
            enc = enc.withoutPadding();
        }
        String s = new String(enc.encode(part), java.nio.charset.StandardCharsets.US_ASCII);
        if ((flags & NO_WRAP) == 0) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < s.length(); i += 76) {
                b.append(s, i, Math.min(s.length(), i + 76)).append((flags & CRLF) != 0 ? "\r\n" : "\n");
            }
            s = b.toString();
        }
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    public static String encodeToString(byte[] input, int flags) {
        return new String(encode(input, flags), java.nio.charset.StandardCharsets.US_ASCII);
    }

    public static String encodeToString(byte[] input, int offset, int len, int flags) {
        return new String(encode(input, offset, len, flags), java.nio.charset.StandardCharsets.US_ASCII);
    }

    public static byte[] decode(String str, int flags) {
        return java.util.Base64.getMimeDecoder().decode(str);
    }
}
