package com.concertbooking.faults;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A private Redis Cluster of three primaries with one replica each, on six consecutive loopback ports, every node
 * with its append-only file (fsync every second). A fault test kills the primary that serves a slot (the replica
 * takes over after {@code cluster-node-timeout}), restarts it (it comes back as a replica), or restarts every node.
 */
public final class RedisClusterProcess implements AutoCloseable {

    public static final int NODES = 6;
    /** How long a primary may be silent before its replica takes over. */
    public static final Duration NODE_TIMEOUT = Duration.ofMillis(2000);

    private final Path dir;
    private final int basePort;
    private final Map<Integer, Process> processes = new LinkedHashMap<>();

    private RedisClusterProcess(Path dir, int basePort) {
        this.dir = dir.toAbsolutePath();
        this.basePort = basePort;
    }

    public static boolean available() {
        return LocalProcesses.onPath("redis-server") && LocalProcesses.onPath("redis-cli");
    }

    /** Starts six fresh nodes and joins them into a cluster (3 primaries, 3 replicas); returns when every slot is served. */
    public static RedisClusterProcess start(Path dir, int basePort) {
        RedisClusterProcess cluster = new RedisClusterProcess(dir, basePort);
        for (int port : cluster.ports()) {
            cluster.startNode(port);
        }
        List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
        cluster.ports().forEach(p -> create.add("127.0.0.1:" + p));
        create.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
        LocalProcesses.check(Duration.ofSeconds(60), create);
        cluster.awaitHealthy(Duration.ofSeconds(30));
        return cluster;
    }

    public List<Integer> ports() {
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i < NODES; i++) {
            ports.add(basePort + i);
        }
        return ports;
    }

    /** {@code 127.0.0.1:p1,127.0.0.1:p2,...} for spring.data.redis.cluster.nodes. */
    public String nodes() {
        return ports().stream().map(p -> "127.0.0.1:" + p).collect(Collectors.joining(","));
    }

    private void startNode(int port) {
        Path nodeDir = dir.resolve(Integer.toString(port));
        try {
            Files.createDirectories(nodeDir);
            Process p = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-config-file", nodeDir.resolve("nodes.conf").toString(),
                    "--cluster-node-timeout", Long.toString(NODE_TIMEOUT.toMillis()),
                    "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--dir", nodeDir.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(nodeDir.resolve("redis.log").toFile()))
                    .start();
            LocalProcesses.stopOnExit(p, "redis-" + port);
            processes.put(port, p);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        LocalProcesses.await(Duration.ofSeconds(20), "Redis node " + port, () -> "PONG".equals(cli(port, "PING")));
    }

    /** One redis-cli command against one node; its output trimmed ("" when the node does not answer). */
    public String cli(int port, String... args) {
        List<String> command = new ArrayList<>(List.of("redis-cli", "-h", "127.0.0.1", "-p", Integer.toString(port)));
        command.addAll(List.of(args));
        try {
            return LocalProcesses.run(Duration.ofSeconds(10), command.toArray(String[]::new)).trim();
        } catch (IllegalStateException e) {
            return "";
        }
    }

    private List<Integer> livePorts() {
        return processes.entrySet().stream().filter(e -> e.getValue().isAlive()).map(Map.Entry::getKey).toList();
    }

    /** The slot of a key (CLUSTER KEYSLOT). */
    public int slotOf(String key) {
        return Integer.parseInt(cli(livePorts().get(0), "CLUSTER", "KEYSLOT", key));
    }

    /** The port of the primary that serves a slot, as the live nodes see it now (-1 if none). */
    public int primaryOf(int slot) {
        for (int port : livePorts()) {
            String nodes = cli(port, "CLUSTER", "NODES");
            for (String line : nodes.split("\n")) {
                String[] f = line.trim().split(" ");
                if (f.length < 9 || !f[2].contains("master") || f[2].contains("fail")) {
                    continue;
                }
                for (int i = 8; i < f.length; i++) {
                    String range = f[i];
                    if (range.startsWith("[")) {
                        continue;
                    }
                    String[] ends = range.split("-");
                    int from = Integer.parseInt(ends[0]);
                    int to = ends.length > 1 ? Integer.parseInt(ends[1]) : from;
                    if (slot >= from && slot <= to) {
                        return Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1, f[1].indexOf('@')));
                    }
                }
            }
            if (!nodes.isEmpty()) {
                break;
            }
        }
        return -1;
    }

    /** SIGKILL one node (no shutdown, no final write). */
    public void kill(int port) {
        LocalProcesses.kill(processes.get(port));
    }

    /** Starts a killed node again (from its nodes.conf and append-only file). */
    public void restart(int port) {
        startNode(port);
    }

    /** SIGKILLs every node, then starts them all again from their append-only files. */
    public void restartAll() {
        for (int port : ports()) {
            kill(port);
        }
        for (int port : ports()) {
            startNode(port);
        }
    }

    /** Every live node reports cluster_state:ok. */
    public boolean healthy() {
        for (int port : livePorts()) {
            if (!cli(port, "CLUSTER", "INFO").contains("cluster_state:ok")) {
                return false;
            }
        }
        return !livePorts().isEmpty();
    }

    public void awaitHealthy(Duration timeout) {
        LocalProcesses.await(timeout, "Redis Cluster state ok on every node", this::healthy);
    }

    @Override
    public void close() {
        processes.values().forEach(p -> LocalProcesses.stop(p, Duration.ofSeconds(10)));
        processes.clear();
    }
}
