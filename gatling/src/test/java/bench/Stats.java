package bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/** Client-side measurements that Gatling's report cannot express (printed as BENCH-* lines). */
final class Stats {

    private final String name;
    private final ConcurrentLinkedQueue<Long> values = new ConcurrentLinkedQueue<>();

    Stats(String name) {
        this.name = name;
    }

    void add(long ms) {
        values.add(ms);
    }

    String line() {
        List<Long> v = new ArrayList<>(values);
        if (v.isEmpty()) {
            return "BENCH-STAT " + name + " count=0";
        }
        Collections.sort(v);
        return String.format("BENCH-STAT %s count=%d min=%d p50=%d p95=%d p99=%d max=%d", name, v.size(), v.get(0),
                pct(v, 50), pct(v, 95), pct(v, 99), v.get(v.size() - 1));
    }

    private static long pct(List<Long> sorted, double p) {
        int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }
}
