package com.concertbooking.queue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 12 item 7: Redis crashes (SIGKILL) under a waiting crowd and comes back from its append-only file
 * (fsync every second, as bin/infra, docker-compose.yml and the cluster run it). Every place older than a second
 * survives, in arrival order, and admission resumes. The Redis here is the test's own (redis-server on a free
 * loopback port, data under target/), so the shared ones are never touched.
 */
class QueueRedisRestartTest extends QueueTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Autowired
    QueuePolicies policies;

    @Autowired
    QueueProperties properties;

    private Path dir;
    private int port;
    private Process redisServer;
    private LettuceConnectionFactory connections;

    @AfterEach
    void stopRedis() throws IOException {
        if (connections != null) {
            connections.destroy();
        }
        if (redisServer != null) {
            redisServer.destroyForcibly();
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private Process startRedis() throws Exception {
        Process process = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.log").toFile()))
                .start();
        await().atMost(WAIT).until(this::pong);
        return process;
    }

    private boolean pong() {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(1000);
            OutputStream out = socket.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] reply = new byte[7];
            int n = in.readNBytes(reply, 0, 7);
            return new String(reply, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void everyPlaceOlderThanASecondSurvivesARedisCrashInOrderAndAdmissionResumes() throws Exception {
        dir = Files.createDirectories(Path.of("target", "redis-restart-" + System.nanoTime())).toAbsolutePath();
        try (ServerSocket free = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        redisServer = startRedis();
        connections = new LettuceConnectionFactory(new RedisStandaloneConfiguration("127.0.0.1", port));
        connections.setEagerInitialization(true); // connect here, on the test thread, not lazily on a non-blocking one
        connections.afterPropertiesSet();
        connections.start();
        QueueStore store = new QueueStore(new ReactiveStringRedisTemplate(connections), policies, sales, properties);
        AdmissionScheduler scheduler = new AdmissionScheduler(store, queueService, sales, waits, new QueueMetrics(new SimpleMeterRegistry()), properties);

        long concert = newConcert();
        store.setPolicy(concert, 0, 5000, null, null).block(WAIT); // paused: the crowd waits
        int crowd = 2000;
        long base = freshUserId() + 60_000_000L;
        Flux.range(0, crowd).concatMap(i -> store.join(concert, base + i, "entry-" + i), 64).then().block(Duration.ofSeconds(60));
        // "Older than a second": the append-only file is fsynced every second, so wait until it has been at least once.
        Thread.sleep(1500);
        int latecomers = 100;
        Flux.range(crowd, latecomers).concatMap(i -> store.join(concert, base + i, "entry-" + i), 64).then().block(WAIT);

        redisServer.destroyForcibly().waitFor(); // SIGKILL: no shutdown, no final write
        redisServer = startRedis();

        // Every member of the crowd: still waiting, at exactly the place it had (arrival order kept).
        List<QueueStore.EntryState> states = new ArrayList<>();
        for (int from = 0; from < crowd + latecomers; from += QueueStreams.BATCH) {
            List<QueueStore.Member> members = new ArrayList<>();
            for (int i = from; i < Math.min(crowd + latecomers, from + QueueStreams.BATCH); i++) {
                members.add(new QueueStore.Member(base + i, "entry-" + i));
            }
            // The first calls after the restart may still meet the reconnect; like every caller, retry them.
            states.addAll(store.states(concert, members, false)
                    .retryWhen(reactor.util.retry.Retry.backoff(10, Duration.ofMillis(200))).block(WAIT).states());
        }
        for (int i = 0; i < crowd; i++) {
            assertThat(states.get(i).kind()).as("user %d", i).isEqualTo(QueueStore.Kind.WAITING);
            assertThat(states.get(i).position()).as("place of user %d", i).isEqualTo(i + 1);
        }
        // Latecomers of the last second may be lost; those kept stay behind the crowd, in their order.
        long previous = crowd;
        for (int i = crowd; i < crowd + latecomers; i++) {
            if (states.get(i).kind() == QueueStore.Kind.WAITING) {
                assertThat(states.get(i).position()).isGreaterThan(previous);
                previous = states.get(i).position();
            }
        }

        // The pause survived; lifting it, admission resumes from the front.
        assertThat(store.view(concert).block(WAIT).admitPerTick()).isZero();
        store.setPolicy(concert, 500, 5000, null, null).block(WAIT);
        List<Long> admitted = new ArrayList<>();
        await().atMost(WAIT).until(() -> {
            scheduler.tickAll().block(WAIT).stream().filter(r -> r.concertId() == concert).forEach(r -> admitted.addAll(r.admittedUsers()));
            return admitted.size() >= 500;
        });
        List<Long> first500 = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            first500.add(base + i);
        }
        assertThat(admitted).isEqualTo(first500);
    }
}
