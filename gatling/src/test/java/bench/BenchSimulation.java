package bench;

import java.nio.file.Files;
import java.nio.file.Path;

import io.gatling.javaapi.core.Simulation;


/**
 * Base of the simulations: {@link #prepare()} runs before the load (not measured), {@link #finish()} after it.
 * Around the measured part it reads the CPU time of the service, MariaDB and Redis processes from /proc
 * (pids from -DappPid, -DdbPid, -DredisPid, given by bin/bench; same machine) and prints a BENCH-CPU line,
 * so the cost per request excludes the set-up.
 */
public abstract class BenchSimulation extends Simulation {

    private double[] cpuStart;
    private long wallStart;

    protected void prepare() {}

    protected void finish() {}

    @Override
    public final void before() {
        prepare();
        cpuStart = cpu();
        wallStart = System.nanoTime();
    }

    @Override
    public final void after() {
        double[] end = cpu();
        if (cpuStart != null) {
            System.out.printf("BENCH-CPU measured part: wall=%.1f s, service=%.1f CPU-s, mariadb=%.1f CPU-s, redis=%.1f CPU-s%n",
                    (System.nanoTime() - wallStart) / 1e9, end[0] - cpuStart[0], end[1] - cpuStart[1], end[2] - cpuStart[2]);
        }
        finish();
    }

    private static double[] cpu() {
        return new double[] {cpuOf("appPid"), cpuOf("dbPid"), cpuOf("redisPid")};
    }

    private static double cpuOf(String prop) {
        String pid = System.getProperty(prop, "");
        if (pid.isBlank()) {
            return 0;
        }
        try {
            String stat = Files.readString(Path.of("/proc", pid.trim(), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // after "pid (comm) ": state is f[0]; utime and stime are fields 14 and 15 of the full line
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
        } catch (Exception e) {
            return 0;
        }
    }
}
