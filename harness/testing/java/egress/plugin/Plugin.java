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

    /** Every other MobclickAgent entry point the Umeng table hooks. */
    public static String all(Context context, String canary) {
        MobclickAgent.onEvent(context, "plain_event");
        MobclickAgent.onEvent(context, "label_event", "label-" + canary);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("canary", canary);
        m.put("n", 5);
        MobclickAgent.onEventObject(context, "object_event", m);
        MobclickAgent.onProfileSignIn("puid-" + canary);
        MobclickAgent.onProfileSignIn("WB", "puid2-" + canary);
        return "called";
    }
}
