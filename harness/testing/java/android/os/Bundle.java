package android.os;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Stand-in for android.os.Bundle: a typed map with the real accessor names. */
public final class Bundle {
    private final Map<String, Object> map = new LinkedHashMap<>();

    public Bundle() {}

    public void putString(String key, String value) { map.put(key, value); }
    public void putLong(String key, long value) { map.put(key, value); }
    public void putInt(String key, int value) { map.put(key, value); }
    public void putDouble(String key, double value) { map.put(key, value); }
    public void putBoolean(String key, boolean value) { map.put(key, value); }
    public void putBundle(String key, Bundle value) { map.put(key, value); }
    public Object get(String key) { return map.get(key); }
    public String getString(String key) { return (String) map.get(key); }
    public Set<String> keySet() { return map.keySet(); }
    public int size() { return map.size(); }
}
