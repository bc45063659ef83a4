/** The JVM side of bench/java_bridge_cost.py: two methods to hook and a timed loop over them. */
public class BridgeCost {
    static int f(int x) {
        return x + 1;
    }

    Object g(Object o, byte[] b) {
        return o;
    }

    /** Reads one count per line from stdin; answers "f NS g NS", each in ns per call. */
    public static void main(String[] args) throws Exception {
        BridgeCost m = new BridgeCost();
        byte[] b = new byte[16];
        Object o = "x";
        java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
        String line;
        while ((line = r.readLine()) != null) {
            int n = Integer.parseInt(line.trim());
            int s = 0;
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                s += f(i);
            }
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                m.g(o, b);
            }
            long t2 = System.nanoTime();
            System.out.println("f " + (t1 - t0) / n + " g " + (t2 - t1) / n + " " + (s & 1));
            System.out.flush();
        }
    }
}
