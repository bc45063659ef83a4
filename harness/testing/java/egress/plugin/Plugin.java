package egress.plugin;

import android.content.Context;
import com.umeng.analytics.MobclickAgent;
import java.util.LinkedHashMap;
import java.util.Map;

/** Code shipped in a plugin (loaded by its own class loader, with Umeng's stand-in) that
 *  calls the SDK directly, as an app's plugin or dynamically loaded dex would. */
public final class Plugin {
    private Plugin() {}

    public static String run(Context context, String canary) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("canary", canary);
        MobclickAgent.onEvent(context, "late_event", m);
        return "called";
    }
}
