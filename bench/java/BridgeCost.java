/** The JVM side of bench/java_bridge_cost.py: two methods to hook and a timed loop over them. */
public class BridgeCost {
    static int f(int x) {
        return x + 1;
    }

    Object g(Object o, byte[] b) {
        return o;
    }

    /** A body worth compiling: 1,000 loop iterations. */
    static int work(int n) {
        int s = 0;
        for (int i = 0; i < n; i++) {
            s += (i * 31) ^ (s >>> 3);
        }
        return s;
    }

    /** Reads one count per line from stdin; answers "f NS g NS work NS", each in ns per call
     *  (work: n/10 calls of work(1000)). */
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
            int w = Math.max(1, n / 10);
            for (int i = 0; i < w; i++) {
                s += work(1000);
            }
            long t3 = System.nanoTime();
            System.out.println("f " + (t1 - t0) / n + " g " + (t2 - t1) / n + " work " + (t3 - t2) / w
                + " " + (s & 1));
            System.out.flush();
        }
    }
}
