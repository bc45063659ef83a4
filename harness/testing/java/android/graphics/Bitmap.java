package android.graphics;

/** Stand-in for android.graphics.Bitmap (a parameter type of onPageStarted). */
public final class Bitmap {}
