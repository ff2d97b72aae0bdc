package com.concertbooking.faults;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import com.concertbooking.fleet.Http;
import com.concertbooking.fleet.Http.Reply;
import com.concertbooking.support.IntegrationTest;
import com.concertbooking.support.TestInfrastructure;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fixtures of the fault tests (issue 20): fans that hold a seat and pay like real clients (retrying 503s after
 * their Retry-After with the same Idempotency-Key), a probe that records what a fan sees every 100 ms, and the
 * id offset that keeps a private database's concerts apart from the other tests' concerts on a shared Redis.
 */
abstract class FaultTestSupport extends IntegrationTest {

    /** A fan admitted to the concert and holding one seat. */
    record Fan(long userId, String access, String queueToken, long dateId, long reservationId, long price) {
        Map<String, String> auth() {
            return Map.of("Authorization", "Bearer " + access);
        }

        Map<String, String> authAndPass() {
            return Map.of("Authorization", "Bearer " + access, "Queue-Token", queueToken);
        }
    }

    /** One answer a client got, at a time in ms since the probe's or the fault's start. */
    record Seen(long atMs, int status, String code, String retryAfter) {
        boolean ok() {
            return status >= 200 && status < 300;
        }

        /** The answer SPEC 3 promises while a dependency is out: 503 DEPENDENCY_UNAVAILABLE with Retry-After. */
        boolean dependencyUnavailable() {
            return status == 503 && "DEPENDENCY_UNAVAILABLE".equals(code) && retryAfter != null;
        }
    }

    protected Http http() {
        return new Http("http://127.0.0.1:" + port);
    }

    /**
     * A private database starts its ids at 1, like every fresh test database: on the shared Redis its concerts' queue
     * and cache keys would meet the other test databases' concerts of the same ids. Ids of this run start far above.
     */
    protected static void separateIds(MariaDbProcess db, String database) {
        long base = 5_000_000_000L + ThreadLocalRandom.current().nextLong(1_000_000_000L);
        for (String table : List.of("venue", "concert", "concert_date", "seat", "users", "reservation", "payment")) {
            db.sql("ALTER TABLE `" + database + "`.`" + table + "` AUTO_INCREMENT = " + base);
        }
    }

    /** Spring property values of this class's own Redis database (cluster: database 0, kept apart by the ids). */
    protected static int redisDatabase(int single) {
        return TestInfrastructure.redisCluster() ? 0 : single;
    }

    /** {@code n} fans with the given balance, admitted to the concert (admission paused, then admitted by the operator), each holding one seat. */
    protected List<Fan> admittedFansHolding(CreatedConcert concert, int n, long balance, int firstSeat) {
        asAdmin().put().uri("/api/v1/admin/queues/{id}/policy", concert.concertId()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("admitPerTick", 0, "maxActive", 5000)).exchange().expectStatus().isOk();
        List<Long> users = new ArrayList<>();
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long user = createUser(balance);
            users.add(user);
            Map<?, ?> body = asUser(user).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("concertId", concert.concertId())).exchange().expectStatus().is2xxSuccessful()
                    .expectBody(Map.class).returnResult().getResponseBody();
            tokens.add((String) body.get("token"));
        }
        asAdmin().post().uri("/api/v1/admin/queues/{id}/admit", concert.concertId()).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("count", n)).exchange().expectStatus().isOk();
        List<Fan> fans = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long user = users.get(i);
            Map<?, ?> held = asUser(user).post().uri("/api/v1/reservations").header("Queue-Token", tokens.get(i))
                    .contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("userId", user, "concertDateId", concert.firstDateId(), "seatNumber", firstSeat + i))
                    .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
            fans.add(new Fan(user, accessToken(user), tokens.get(i), concert.firstDateId(), ((Number) held.get("reservationId")).longValue(),
                    ((Number) held.get("price")).longValue()));
        }
        return fans;
    }

    /**
     * Pays like a real client: the same Idempotency-Key on every attempt, 503s retried after their Retry-After, no
     * answer retried, until a definitive answer or the deadline. Every answer is recorded in {@code seen}.
     */
    protected Reply payUntilDefinitive(Http http, Fan fan, Duration max, long t0, List<Seen> seen) {
        String key = "fault-" + fan.reservationId();
        Map<String, String> headers = new java.util.HashMap<>(fan.authAndPass());
        headers.put("Idempotency-Key", key);
        long deadline = System.nanoTime() + max.toNanos();
        Reply r;
        do {
            r = http.send("POST", "/api/v1/payments/pay", Map.of("reservationId", fan.reservationId(), "userId", fan.userId()), headers);
            seen.add(new Seen(System.currentTimeMillis() - t0, r.status(), r.code(), r.retryAfter()));
            if (!(r.transientFailure() || "IDEMPOTENCY_IN_PROGRESS".equals(r.code()) || r.status() == 429)) {
                return r;
            }
            Http.pause(Http.retryPause(r, 500));
        } while (System.nanoTime() < deadline);
        return r;
    }

    /**
     * A fan's view every 100 ms: reads their balance (a database read behind a token check) and records the answer.
     * Runs on its own thread until closed.
     */
    static final class Probe implements AutoCloseable {
        final List<Seen> seen = Collections.synchronizedList(new ArrayList<>());
        final long t0;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        Probe(Http http, Fan fan, long t0) {
            this.t0 = t0;
            this.thread = new Thread(() -> {
                while (running.get()) {
                    Reply r = http.get("/api/v1/users/" + fan.userId() + "/balance", fan.auth());
                    seen.add(new Seen(System.currentTimeMillis() - t0, r.status(), r.code(), r.retryAfter()));
                    Http.pause(100);
                }
            }, "fault-probe");
            thread.setDaemon(true);
            thread.start();
        }

        List<Seen> between(long fromMs, long toMs) {
            synchronized (seen) {
                return seen.stream().filter(s -> s.atMs() >= fromMs && s.atMs() < toMs).toList();
            }
        }

        /** The first ms from {@code fromMs} on after which every answer was 2xx (-1: never). */
        long fullServiceFrom(long fromMs) {
            synchronized (seen) {
                long last = fromMs;
                boolean any = false;
                for (Seen s : seen) {
                    if (s.atMs() < fromMs) {
                        continue;
                    }
                    if (!s.ok()) {
                        last = s.atMs();
                        any = false;
                    } else if (!any) {
                        any = true;
                        last = s.atMs();
                    }
                }
                return any ? last : -1;
            }
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join(30_000);
        }
    }

    /** No 5xx other than the promised 503 DEPENDENCY_UNAVAILABLE with Retry-After, and never a 500. */
    static void onlyPromisedFailures(List<Seen> seen) {
        synchronized (seen) {
            assertThat(seen.stream().filter(s -> s.status() >= 500 && !s.dependencyUnavailable()).toList())
                    .as("5xx answers other than 503 DEPENDENCY_UNAVAILABLE with Retry-After").isEmpty();
        }
    }

    static StoreCheck.FanRecord record(Fan fan, long startBalance, Reply payment) {
        return new StoreCheck.FanRecord(fan.userId(), startBalance, payment != null && payment.ok() ? Set.of(fan.reservationId()) : Set.of(), Set.of());
    }

    /**
     * Stops the private dependencies when this class's own application context closes (the class is
     * {@code @DirtiesContext}): after its loops and clients stopped, so nothing keeps retrying dead processes. Also
     * at JVM exit (each process has a shutdown hook), should the context never close.
     */
    static void stopWithContext(ConfigurableApplicationContext context, String name, Runnable cleanUp) {
        var beans = (org.springframework.beans.factory.support.DefaultSingletonBeanRegistry) context.getBeanFactory();
        if (!beans.containsSingleton(name)) {
            org.springframework.beans.factory.DisposableBean stop = cleanUp::run;
            beans.registerSingleton(name, stop);
            beans.registerDisposableBean(name, stop);
        }
    }

    /** The payment topic of this context (its prefix is per run or per class). */
    protected String paymentTopic(ConfigurableApplicationContext context) {
        return context.getEnvironment().getProperty("booking.events.topic-prefix") + "booking.payment.completed";
    }
}
