package com.concertbooking.faults;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Small helpers for the fault tests' private processes (MariaDB, Redis Cluster, Kafka): ports, waiting, running a
 * command. Every process a fault test stops or kills is one it started itself, on a port of its own.
 */
public final class LocalProcesses {

    private LocalProcesses() {}

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name")) || "0".equals(run(Duration.ofSeconds(5), "id", "-u").trim());
    }

    public static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/usr/sbin").split(":")) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin", command)) || Files.isExecutable(Path.of("/usr/bin", command));
    }

    public static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 300);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public static boolean free(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Any free loopback port. */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A base port of {@code count} consecutive free ports below 40000 whose +10000 (a Redis Cluster node's bus port)
     * are free too.
     */
    public static int freePortRange(int count) {
        for (int attempt = 0; attempt < 200; attempt++) {
            int base = 20_000 + ThreadLocalRandom.current().nextInt(19_000);
            boolean ok = true;
            for (int p = base; p < base + count && ok; p++) {
                ok = free(p) && free(p + 10_000);
            }
            if (ok) {
                return base;
            }
        }
        throw new IllegalStateException("no " + count + " free consecutive ports");
    }

    public static void await(Duration timeout, String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + ": not within " + timeout.toSeconds() + " s");
            }
            sleep(100);
        }
    }

    public static void sleep(long millis) {
        com.concertbooking.fleet.Http.pause(millis);
    }

    /** Runs a command to its end (bounded); returns its output (stdout and stderr). */
    public static String run(Duration timeout, String... command) {
        return execute(timeout, List.of(command), false);
    }

    /** Runs a command; fails with its output unless it exits 0. */
    public static String check(Duration timeout, List<String> command) {
        return execute(timeout, command, true);
    }

    private static String execute(Duration timeout, List<String> command, boolean mustSucceed) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (mustSucceed && p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue() + ": " + text);
            }
            return text;
        } catch (IOException e) {
            throw new IllegalStateException(String.join(" ", command) + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** SIGTERM, then SIGKILL after the grace period; waits for the exit. */
    public static void stop(Process process, Duration grace) {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** SIGKILL and wait for the exit. */
    public static void kill(Process process) {
        if (process == null || !process.isAlive()) {
            return;
        }
        try {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: target/ is cleaned by the next build
        }
    }

    /** Never leave a private process behind when the JVM ends early. */
    public static void stopOnExit(Process process, String name) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> kill(process), "stop-" + name));
    }
}
