package com.concertbooking.events;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.common.Uuid;

/**
 * A private single-node KRaft broker in its own JVM, from the same Maven Central jars bin/infra uses.
 * Fault-injection tests stop and start this one instead of the shared broker, so they never disturb
 * other test runs, and they only ever end a process they started themselves.
 */
public final class KafkaBrokerProcess implements AutoCloseable {

    private final Path dir;
    private final Path libs;
    private final int port;
    private final int controllerPort;
    private Process process;

    private KafkaBrokerProcess(Path dir, Path libs, Path logDir) throws IOException {
        this.dir = dir;
        this.libs = libs;
        this.port = freePort();
        this.controllerPort = freePort();
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("server.properties"), """
                process.roles=broker,controller
                node.id=1
                controller.quorum.bootstrap.servers=127.0.0.1:%2$d
                listeners=PLAINTEXT://127.0.0.1:%1$d,CONTROLLER://127.0.0.1:%2$d
                advertised.listeners=PLAINTEXT://127.0.0.1:%1$d
                controller.listener.names=CONTROLLER
                listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
                inter.broker.listener.name=PLAINTEXT
                log.dirs=%3$s
                num.partitions=3
                offsets.topic.replication.factor=1
                offsets.topic.num.partitions=3
                transaction.state.log.replication.factor=1
                transaction.state.log.min.isr=1
                share.coordinator.state.topic.replication.factor=1
                share.coordinator.state.topic.min.isr=1
                group.initial.rebalance.delay.ms=0
                auto.create.topics.enable=false
                """.formatted(port, controllerPort, logDir));
    }

    /** The Kafka jars bin/infra fetched, or null when they are not on this machine. */
    public static Path libs() {
        String cache = System.getenv().getOrDefault("BOOKING_CACHE_DIR", System.getProperty("user.home") + "/.cache/booking-service");
        Path libs = Path.of(cache, "kafka-4.1.1", "libs");
        return Files.isDirectory(libs) ? libs : null;
    }

    /** Formats storage under {@code dir} and starts the broker; returns once it accepts connections. */
    public static KafkaBrokerProcess startNew(Path dir) throws Exception {
        return startNew(dir, dir.resolve("data"));
    }

    /**
     * As {@link #startNew(Path)} with the broker's log directory (partitions and the KRaft metadata log) at
     * {@code logDir}: e.g. on a small file system that a disk-full test fills up.
     */
    public static KafkaBrokerProcess startNew(Path dir, Path logDir) throws Exception {
        KafkaBrokerProcess broker = new KafkaBrokerProcess(dir, libs(), logDir);
        broker.run(List.of("kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(),
                "-c", dir.resolve("server.properties").toString(), "--standalone"), "format.log").waitFor(60, TimeUnit.SECONDS);
        broker.start();
        return broker;
    }

    public String bootstrap() {
        return "127.0.0.1:" + port;
    }

    public synchronized void start() throws Exception {
        if (process != null && process.isAlive()) {
            return;
        }
        Process started = run(List.of("kafka.Kafka", dir.resolve("server.properties").toString()), "kafka.log");
        process = started;
        // Safety net: never leave the broker behind when the test JVM exits early.
        Runtime.getRuntime().addShutdownHook(new Thread(started::destroy, "stop-private-kafka"));
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (!accepts()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("private Kafka broker did not start; see " + dir.resolve("kafka.log"));
            }
            Thread.sleep(200);
        }
    }

    /** Stops the broker (SIGTERM, then SIGKILL after 30 s) and waits until its port is closed. */
    public synchronized void stop() throws Exception {
        if (process == null) {
            return;
        }
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        process = null;
    }

    /** The broker process runs (a broker whose only log directory failed halts by itself). */
    public synchronized boolean alive() {
        return process != null && process.isAlive();
    }

    /** SIGKILL: no controlled shutdown. */
    public synchronized void kill() throws Exception {
        if (process != null) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            process = null;
        }
    }

    public Path dir() {
        return dir;
    }

    public boolean accepts() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private Process run(List<String> mainAndArgs, String logFile) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(List.of("-Xms128m", "-Xmx384m", "-XX:+UseSerialGC", "-cp", libs.resolve("*").toString()));
        command.addAll(mainAndArgs);
        return new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(logFile).toFile()))
                .start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        stop();
    }
}
