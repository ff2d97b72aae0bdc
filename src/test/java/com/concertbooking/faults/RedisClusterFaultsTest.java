package com.concertbooking.faults;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import com.concertbooking.fleet.Http;
import com.concertbooking.fleet.Http.Reply;
import com.concertbooking.support.TestInfrastructure;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.MediaType;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * SPEC 15 / issue 20: the queue on a Redis Cluster with one replica per primary (private, six nodes, append-only
 * files). The primary that serves a busy concert's slot is killed: the replica takes over, the service follows the
 * new topology, every waiting fan keeps their place, open streams carry on (or reconnect) and see their admission,
 * and admission resumes in order. Then every node is killed and started again from its append-only file: places
 * survive, admission resumes. While Redis is out, queue requests answer 503 DEPENDENCY_UNAVAILABLE with Retry-After.
 */
@DirtiesContext
class RedisClusterFaultsTest extends FaultTestSupport {

    static final Path DIR = Path.of("target", "faults-redis-" + ProcessHandle.current().pid()).toAbsolutePath();
    static RedisClusterProcess cluster;

    @DynamicPropertySource
    static void privateCluster(DynamicPropertyRegistry registry) {
        assumeThat(TestInfrastructure.useContainers()).as("local processes are used for fault injection").isFalse();
        assumeThat(RedisClusterProcess.available()).as("redis-server and redis-cli (bin/infra up installs redis-server)").isTrue();
        cluster = RedisClusterProcess.start(DIR, LocalProcesses.freePortRange(RedisClusterProcess.NODES));
        registry.add("spring.data.redis.cluster.nodes", cluster::nodes);
    }

    @Autowired
    ConfigurableApplicationContext applicationContext;

    @BeforeEach
    void remember() {
        stopWithContext(applicationContext, "privateRedisCluster", () -> {
            cluster.close();
            LocalProcesses.deleteTree(DIR);
        });
    }

    /** Fans waiting in one concert's queue (admission paused), with their positions as the service reported them. */
    record Waiting(long userId, String access, String token, int position) {}

    private List<Waiting> crowd(long concertId, int n) throws Exception {
        asAdmin().put().uri("/api/v1/admin/queues/{id}/policy", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("admitPerTick", 0, "maxActive", 5000)).exchange().expectStatus().isOk();
        List<Long> users = createUsers(n, 0);
        Map<Long, String> access = new HashMap<>();
        users.forEach(u -> access.put(u, accessToken(u)));
        Http http = http();
        List<Waiting> crowd = new ArrayList<>();
        for (long u : users) { // one after the other: arrival order = list order
            Reply r = http.send("POST", "/api/v1/queues/token", Map.of("concertId", concertId), Map.of("Authorization", "Bearer " + access.get(u)));
            assertThat(r.status()).as("join: %s", r.body()).isEqualTo(201);
            crowd.add(new Waiting(u, access.get(u), r.body().path("token").asString(), r.body().path("position").asInt()));
        }
        for (int i = 0; i < n; i++) {
            assertThat(crowd.get(i).position()).isEqualTo(i + 1);
        }
        return crowd;
    }

    private Reply status(Http http, Waiting w) {
        return http.get("/api/v1/queues/status", Map.of("Authorization", "Bearer " + w.access(), "Queue-Token", w.token()));
    }

    /** Every fan's place, read after the fault through the API (retrying 503s): the same as before. */
    private void placesKept(Http http, List<Waiting> crowd) {
        for (Waiting w : crowd) {
            Reply r = status(http, w);
            for (int i = 0; i < 50 && r.status() == 503; i++) {
                Http.pause(Http.retryPause(r, 500));
                r = status(http, w);
            }
            assertThat(r.status()).as("status of %d: %s", w.userId(), r.body()).isEqualTo(200);
            assertThat(r.body().path("status").asString()).isEqualTo("WAITING");
            assertThat(r.body().path("position").asInt()).as("place of fan %d", w.userId()).isEqualTo(w.position());
        }
    }

    /** An SSE watcher: reads events until {@code active} or {@code expired}, reconnecting a broken stream. */
    static final class Watcher implements AutoCloseable {
        final Waiting fan;
        final List<Integer> positions = java.util.Collections.synchronizedList(new ArrayList<>());
        volatile String outcome = "none";
        volatile int reconnects;
        final AtomicBoolean stop = new AtomicBoolean();
        final Future<?> task;

        Watcher(ExecutorService pool, Http http, Waiting fan) {
            this.fan = fan;
            this.task = pool.submit(this::run);
        }

        private void run() {
            String path = "/api/v1/queues/stream?token=" + URLEncoder.encode(fan.token(), StandardCharsets.UTF_8);
            while (!stop.get()) {
                try {
                    HttpResponse<Stream<String>> response = java.net.http.HttpClient.newHttpClient().send(
                            HttpRequest.newBuilder(java.net.URI.create(base + path)).header("Accept", "text/event-stream")
                                    .timeout(Duration.ofMinutes(3)).GET().build(), HttpResponse.BodyHandlers.ofLines());
                    if (response.statusCode() == 200) {
                        String event = null;
                        var it = response.body().iterator();
                        while (it.hasNext() && !stop.get()) {
                            String line = it.next();
                            if (line.startsWith("event:")) {
                                event = line.substring(6).trim();
                            } else if (line.startsWith("data:") && event != null) {
                                if (event.equals("active") || event.equals("expired")) {
                                    outcome = event;
                                    return;
                                }
                                if (event.equals("position")) {
                                    positions.add(Http.JSON.readTree(line.substring(5).trim()).path("position").asInt());
                                }
                            }
                        }
                    } else {
                        response.body().close();
                    }
                } catch (IOException | UncheckedIOException e) {
                    // broken: reconnect
                } catch (InterruptedException e) {
                    return;
                }
                if (!stop.get()) {
                    reconnects++;
                    Http.pause(500);
                }
            }
        }

        static String base;

        @Override
        public void close() {
            stop.set(true);
            task.cancel(true);
        }
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void primaryOfABusyConcertsSlotKilledFailoverKeepsPlacesStreamsAndAdmission() throws Exception {
        Watcher.base = "http://127.0.0.1:" + port;
        long concertId = createConcert(100).concertId();
        List<Waiting> crowd = crowd(concertId, 150);
        Http.pause(1500); // replicated and in the append-only files
        Http http = http();
        ExecutorService pool = Executors.newCachedThreadPool();
        List<Watcher> watchers = new ArrayList<>();
        for (Waiting w : crowd.subList(0, 30)) {
            watchers.add(new Watcher(pool, http, w));
        }
        LocalProcesses.await(Duration.ofSeconds(20), "streams open", () -> watchers.stream().allMatch(w -> !w.positions.isEmpty()));

        int slot = cluster.slotOf("{concert:" + concertId + "}");
        int primary = cluster.primaryOf(slot);
        assertThat(primary).isPositive();
        long t0 = System.currentTimeMillis();
        List<Seen> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean probing = new AtomicBoolean(true);
        Waiting probed = crowd.get(149);
        Future<?> probe = pool.submit(() -> {
            while (probing.get()) {
                Reply r = status(http, probed);
                seen.add(new Seen(System.currentTimeMillis() - t0, r.status(), r.code(), r.retryAfter()));
                Http.pause(100);
            }
        });
        Http.pause(500);
        long killedAt = System.currentTimeMillis() - t0;
        cluster.kill(primary);
        LocalProcesses.await(Duration.ofSeconds(30), "a replica took over slot " + slot,
                () -> cluster.primaryOf(slot) > 0 && cluster.primaryOf(slot) != primary && cluster.healthy());
        long failedOverAt = System.currentTimeMillis() - t0;
        LocalProcesses.await(Duration.ofSeconds(30), "queue status answers again", () -> {
            synchronized (seen) {
                return !seen.isEmpty() && seen.get(seen.size() - 1).ok();
            }
        });
        long servingAt = System.currentTimeMillis() - t0;
        Http.pause(3000);
        probing.set(false);
        probe.get(10, TimeUnit.SECONDS);
        onlyPromisedFailures(seen);
        long fullService;
        synchronized (seen) {
            fullService = seen.stream().filter(s -> !s.ok()).mapToLong(Seen::atMs).max().orElse(killedAt);
        }
        System.out.printf("primary %d of slot %d killed at %d ms; replica serves at %d ms; queue answers at %d ms; last failure at %d ms%n",
                primary, slot, killedAt, failedOverAt, servingAt, fullService);
        assertThat(servingAt - failedOverAt).as("ms from the failover to the service answering").isLessThan(15_000);

        // Places kept, in order; then admission resumes from the front and the open streams see it.
        placesKept(http, crowd);
        asAdmin().put().uri("/api/v1/admin/queues/{id}/policy", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("admitPerTick", 30, "maxActive", 30)).exchange().expectStatus().isOk();
        LocalProcesses.await(Duration.ofSeconds(30), "the 30 streams of the front see their admission",
                () -> watchers.stream().allMatch(w -> w.outcome.equals("active")));
        for (Watcher w : watchers) {
            for (int i = 1; i < w.positions.size(); i++) {
                assertThat(w.positions.get(i)).as("stream of fan %d never goes back", w.fan.userId()).isLessThanOrEqualTo(w.positions.get(i - 1));
            }
            w.close();
        }
        Map<?, ?> view = asAdmin().get().uri("/api/v1/admin/queues/{id}", concertId).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(((Number) view.get("active")).intValue()).isEqualTo(30);
        assertThat(((Number) view.get("waiting")).intValue()).isEqualTo(120);
        Reply next = status(http, crowd.get(30));
        assertThat(next.body().path("position").asInt()).as("the 31st fan is first in line now").isEqualTo(1);

        // The killed node comes back as a replica of the new primary.
        cluster.restart(primary);
        cluster.awaitHealthy(Duration.ofSeconds(30));
        pool.shutdownNow();
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void everyNodeRestartedFromItsAppendOnlyFileKeepsPlacesAndAdmissionResumes() throws Exception {
        long concertId = createConcert(100).concertId();
        List<Waiting> crowd = crowd(concertId, 100);
        Http.pause(1500); // in the append-only files (fsync every second)
        Http http = http();
        long t0 = System.currentTimeMillis();
        cluster.restartAll();
        cluster.awaitHealthy(Duration.ofSeconds(60));
        long healthyAt = System.currentTimeMillis() - t0;
        long servingAt = -1;
        for (int i = 0; i < 300 && servingAt < 0; i++) {
            if (status(http, crowd.get(0)).ok()) {
                servingAt = System.currentTimeMillis() - t0;
            }
            Http.pause(100);
        }
        System.out.printf("every node SIGKILLed and restarted: cluster ok after %d ms, queue answers after %d ms%n", healthyAt, servingAt);
        assertThat(servingAt).as("the queue answers again").isPositive();
        placesKept(http, crowd);
        asAdmin().put().uri("/api/v1/admin/queues/{id}/policy", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("admitPerTick", 10, "maxActive", 10)).exchange().expectStatus().isOk();
        LocalProcesses.await(Duration.ofSeconds(30), "admission resumes from the front", () -> {
            Reply r = status(http, crowd.get(9));
            return r.ok() && "ACTIVE".equals(r.body().path("status").asString());
        });
        assertThat(status(http, crowd.get(10)).body().path("position").asInt()).isEqualTo(1);
    }
}
