package org.chromium.net;

public abstract class UploadDataProvider {
    public abstract long getLength();
}
