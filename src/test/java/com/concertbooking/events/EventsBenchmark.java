package com.concertbooking.events;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import com.concertbooking.events.OutboxWriter.EventType;
import com.concertbooking.support.TimeConfig;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Relay throughput and commit-to-consume latency (docs/benchmarks.md, section "Events"). Not part of the test
 * suite (its name matches no surefire pattern); run it with {@code bin/events-bench}.
 * Sizes: -Dbench.backlog (default 20000), -Dbench.rates (events/s, default 200,1000), -Dbench.seconds (default 15).
 */
class EventsBenchmark extends EventsTestSupport {

    @Autowired
    OutboxRelay relay;

    private final StringBuilder report = new StringBuilder();

    @Test
    void relayThroughputAndLatency() throws Exception {
        int backlog = Integer.getInteger("bench.backlog", 20_000);
        int seconds = Integer.getInteger("bench.seconds", 15);
        List<Integer> rates = java.util.Arrays.stream(System.getProperty("bench.rates", "200,1000").split(",")).map(Integer::parseInt).toList();
        CreatedConcert concert = createConcert(5, 30);

        // Warm-up (JIT, connections, partition leaders).
        steady(createUser(0), concert, 300, 2);

        // 1. Backlog drain: the relay is paused while `backlog` rows pile up (as during an outage), then resumed.
        long drainUser = createUser(0);
        CountDownLatch stopped = new CountDownLatch(1);
        relay.stop(stopped::countDown);
        assertThat(stopped.await(30, TimeUnit.SECONDS)).isTrue();
        insertBacklog(drainUser, concert.concertId(), backlog);
        Instant resumed = Instant.now();
        relay.start();
        await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(100))
                .until(() -> count("SELECT COUNT(*) FROM outbox o WHERE o.status = 'PENDING'") == 0);
        Instant relayed = lastSentAt(drainUser);
        await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(100))
                .until(() -> count("SELECT COUNT(*) FROM notification WHERE user_id = ?", drainUser) == backlog);
        Instant consumed = lastNotificationAt(drainUser);
        double relaySeconds = Duration.between(resumed, relayed).toMillis() / 1000.0;
        double endToEndSeconds = Duration.between(resumed, consumed).toMillis() / 1000.0;
        line("| backlog drain | %d events (50 keys) | relay: **%.0f events/s** (%.1f s) | relay+consumer: %.0f events/s (%.1f s) |",
                backlog, backlog / relaySeconds, relaySeconds, backlog / endToEndSeconds, endToEndSeconds);

        // 2. Steady commit rates: one transaction per event, like payments; latency per event.
        for (int rate : rates) {
            long user = createUser(0);
            double achieved = steady(user, concert, rate, seconds);
            List<Long> relayMicros = micros("""
                    SELECT TIMESTAMPDIFF(MICROSECOND, o.created_at, o.sent_at) FROM outbox o
                    WHERE JSON_VALUE(o.payload, '$.userId') = ? ORDER BY 1""", Long.toString(user));
            List<Long> e2eMicros = micros("""
                    SELECT TIMESTAMPDIFF(MICROSECOND, o.created_at, n.created_at) FROM notification n
                    JOIN outbox o ON o.event_id = n.event_id WHERE n.user_id = ? ORDER BY 1""", user);
            line("| steady %d/s (achieved %.0f/s), %d s | %d events | commit->Kafka ack p50 %s, p99 %s | commit->notification p50 **%s**, p99 **%s**, max %s |",
                    rate, achieved, seconds, e2eMicros.size(), ms(relayMicros, 0.50), ms(relayMicros, 0.99),
                    ms(e2eMicros, 0.50), ms(e2eMicros, 0.99), ms(e2eMicros, 1.0));
        }
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "benchmarks-events.md"), report.toString());
        System.out.println("\n" + report);
    }

    /** Commits events at `rate` per second for `seconds`, 64 in flight at most; waits until all are notifications. */
    private double steady(long userId, CreatedConcert concert, int rate, int seconds) {
        int total = rate * seconds;
        long periodNanos = 1_000_000_000L / rate;
        long start = System.nanoTime();
        Flux.interval(Duration.ofNanos(periodNanos)).take(total).onBackpressureBuffer()
                .flatMap(i -> TransactionalOperator.create(transactionManager)
                        .transactional(outboxWriter.append(EventType.PAYMENT_COMPLETED, concert.firstDateId(),
                                paymentPayload(userId, concert.concertId(), concert.firstDateId(), i))), 64)
                .then().block(Duration.ofSeconds(seconds * 4L + 60));
        double achieved = total / ((System.nanoTime() - start) / 1e9);
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(100))
                .until(() -> count("SELECT COUNT(*) FROM notification WHERE user_id = ?", userId) == total);
        return achieved;
    }

    private void insertBacklog(long userId, long concertId, int n) {
        LocalDateTime now = TimeConfig.toDb(Instant.now());
        for (int from = 0; from < n; from += 1000) {
            StringBuilder sql = new StringBuilder("INSERT INTO outbox (event_id, event_type, topic, message_key, payload, status, created_at) VALUES ");
            for (int i = from; i < Math.min(n, from + 1000); i++) {
                String id = UUID.randomUUID().toString();
                long key = 8_000_000 + i % 50;
                String payload = """
                        {"eventId":"%s","type":"payment-completed","occurredAt":"%s","userId":%d,"reservationId":%d,"paymentId":%d,\
                        "concertId":%d,"concertDateId":%d,"seatId":%d,"seatNumber":%d,"amount":100000}"""
                        .formatted(id, Instant.now(), userId, 1_000_000 + i, 2_000_000 + i, concertId, key, 3_000_000 + i, i % 100 + 1);
                sql.append(i == from ? "" : ",").append("('").append(id).append("','payment-completed','booking.payment.completed','")
                        .append(key).append("','").append(payload).append("','PENDING','").append(now).append("')");
            }
            db.sql(sql.toString()).fetch().rowsUpdated().block(Duration.ofSeconds(30));
        }
    }

    private Instant lastSentAt(long userId) {
        return TimeConfig.fromDb(db.sql("SELECT MAX(sent_at) FROM outbox WHERE JSON_VALUE(payload, '$.userId') = ?")
                .bind(0, Long.toString(userId)).map(r -> r.get(0, LocalDateTime.class)).one().block());
    }

    private Instant lastNotificationAt(long userId) {
        return TimeConfig.fromDb(db.sql("SELECT MAX(created_at) FROM notification WHERE user_id = ?")
                .bind(0, userId).map(r -> r.get(0, LocalDateTime.class)).one().block());
    }

    private List<Long> micros(String sql, Object arg) {
        return new ArrayList<>(db.sql(sql).bind(0, arg).map(r -> ((Number) r.get(0)).longValue()).all().collectList().block());
    }

    private static String ms(List<Long> sorted, double q) {
        if (sorted.isEmpty()) {
            return "n/a";
        }
        int i = (int) Math.min(sorted.size() - 1, Math.ceil(q * sorted.size()) - 1);
        return String.format("%.1f ms", sorted.get(Math.max(0, i)) / 1000.0);
    }

    private void line(String format, Object... args) {
        report.append(String.format(format, args)).append('\n');
    }
}
