package com.concertbooking.events;

import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

import com.concertbooking.events.OutboxWriter.EventType;
import com.concertbooking.support.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * SPEC 7 / issue 5: Kafka down, 100 payments go on, nothing is lost, duplicates are absorbed.
 *
 * <p>Runs against a private broker process (see {@link KafkaBrokerProcess}) and a database of its own,
 * so stopping the broker disturbs no one and no other application context in this JVM relays these rows.
 */
class KafkaOutageTest extends EventsTestSupport {

    private static KafkaBrokerProcess broker;
    private static ConfigurableApplicationContext context;

    @DynamicPropertySource
    static void privateBrokerAndDatabase(DynamicPropertyRegistry registry) throws Exception {
        assumeThat(TestInfrastructure.useContainers()).as("local broker jars are used for fault injection").isFalse();
        assumeThat(KafkaBrokerProcess.libs()).as("Kafka jars (bin/infra up fetches them)").isNotNull();
        String database = System.getenv().getOrDefault("BOOKING_TEST_DB_NAME", "booking_test") + "_outage";
        try (var c = DriverManager.getConnection("jdbc:mariadb://127.0.0.1:3306/", "booking", "booking")) {
            c.createStatement().execute("CREATE DATABASE IF NOT EXISTS `" + database + "`");
        }
        broker = KafkaBrokerProcess.startNew(Path.of("target", "kafka-outage-" + ProcessHandle.current().pid()));
        registry.add("booking.kafka.bootstrap-servers", broker::bootstrap);
        registry.add("BOOKING_DB_NAME", () -> database);
        // A database of its own means concert ids of its own: on the shared Redis they would collide with the main
        // test database's concerts (same queue keys); a Redis database of its own keeps them apart (Cluster has only 0).
        registry.add("spring.data.redis.database", () -> TestInfrastructure.redisCluster() ? 0 : 1);
        registry.add("booking.events.relay.backoff-max", () -> "2s");
        registry.add("booking.events.relay.delivery-timeout", () -> "8s");
        registry.add("booking.events.relay.lag-interval", () -> "500ms");
    }

    @Autowired
    ConfigurableApplicationContext applicationContext;
    @Autowired
    NotificationConsumer consumer;
    @Autowired
    OutboxRelay relay;
    @Autowired
    OutboxStore store;
    @Autowired
    MeterRegistry registry;

    @BeforeEach
    void remember() {
        context = applicationContext;
    }

    @AfterAll
    static void stopBroker() throws Exception {
        // Our Kafka clients stop before the broker goes. The context itself stays cached (closing it
        // mid-run once hung in Lettuce's connection reset); it idles with relay and consumer stopped.
        if (context != null) {
            context.getBean(NotificationConsumer.class).stop();
            context.getBean(OutboxRelay.class).stop();
        }
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void paymentsMadeWhileKafkaIsDownAreAllDeliveredOnceAndReplaysAreAbsorbed() throws Exception {
        // 100 fans with a held seat each, over three dates (three keys), admitted before the outage.
        CreatedConcert concert = createConcert(34, 30, 31, 32);
        pauseAdmissions(concert.concertId());
        record Fan(long userId, String token, long reservationId) {}
        List<long[]> users = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            long userId = createUser(1_000_000);
            users.add(new long[] {userId, i});
        }
        List<String> tokens = users.stream().map(u -> joinQueue(u[0], concert.concertId())).toList();
        admit(concert.concertId(), 100);
        List<Fan> fans = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            long userId = users.get(i)[0];
            fans.add(new Fan(userId, tokens.get(i), hold(tokens.get(i), userId, concert.dateIds().get(i % 3), i / 3 + 1)));
        }
        String warmUp = commitEvent(EventType.RESERVATION_CANCELLED, concert.firstDateId(),
                paymentPayload(fans.get(0).userId(), concert.concertId(), concert.firstDateId(), 0));
        await().atMost(Duration.ofSeconds(60)).until(() -> notifications(warmUp) == 1);
        asAdmin().get().uri("/actuator/health").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.components.kafka.status").isEqualTo("UP");

        List<String> ids = new ArrayList<>();
        long stoppedAt = System.nanoTime();
        broker.stop();
        try {
            // 100 payments while the broker is down: every one succeeds, each with exactly one outbox row.
            for (Fan fan : fans) {
                assertThat(pay(fan.token(), fan.userId(), fan.reservationId()).get("status")).isEqualTo("COMPLETED");
            }
            for (Fan fan : fans) {
                List<String> eventIds = eventIdsOf(fan.reservationId());
                assertThat(eventIds).hasSize(1);
                ids.add(eventIds.get(0));
            }
            assertThat(ids).hasSize(100).doesNotHaveDuplicates();

            // Lag is visible; the relay has given up on the producer's own retries and backs off; Kafka shows
            // DOWN in health, but the service stays ready.
            await().atMost(Duration.ofSeconds(10)).until(() -> registry.get("booking.outbox.unsent").gauge().value() >= 100);
            await().atMost(Duration.ofSeconds(30)).until(() -> relay.status().failing());
            web.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk()
                    .expectBody().jsonPath("$.status").isEqualTo("UP");
            asAdmin().get().uri("/actuator/health").exchange()
                    .expectBody()
                    .jsonPath("$.components.kafka.status").isEqualTo("DOWN")
                    .jsonPath("$.components.kafka.details.relayFailing").isEqualTo(true)
                    .jsonPath("$.components.kafka.details.outboxUnsent").value(n -> assertThat(((Number) n).longValue()).isGreaterThanOrEqualTo(100));
            assertThat(sentAmong(ids)).isZero();
        } finally {
            broker.start();
        }
        assertThat(Duration.ofNanos(System.nanoTime() - stoppedAt)).isLessThan(Duration.ofSeconds(60));

        await().atMost(Duration.ofSeconds(90)).until(() -> sentAmong(ids) == 100 && notificationsAmong(ids) == 100);
        assertThat(count("SELECT COUNT(*) FROM notification WHERE user_id IN (" + placeholders(ids) + ")",
                fans.stream().map(Fan::userId).toArray())).isEqualTo(101); // the 100 payments and the warm-up event
        await().atMost(Duration.ofSeconds(10)).until(() -> registry.get("booking.outbox.unsent").gauge().value() == 0);

        // Replay: the consumer leaves, its group is deleted, and it starts again from the earliest offsets.
        double duplicatesBefore = registry.counter("booking.notifications.recorded", "result", "duplicate").count();
        consumer.stop();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap()))) {
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                    .until(() -> {
                        admin.deleteConsumerGroups(Set.of(events.consumer().group())).all().get();
                        return true;
                    });
        }
        consumer.start();
        await().atMost(Duration.ofSeconds(60))
                .until(() -> registry.counter("booking.notifications.recorded", "result", "duplicate").count() - duplicatesBefore >= 101);
        assertThat(notificationsAmong(ids)).isEqualTo(100);
        assertThat(count("SELECT COUNT(*) FROM notification WHERE user_id IN (" + placeholders(ids) + ")",
                fans.stream().map(Fan::userId).toArray())).isEqualTo(101);
    }

    /**
     * Claims, with the relay of this context paused and this class's private database: two instances
     * never claim the same row, and a row is never claimed while an earlier row of its key is out.
     */
    @Test
    void relayInstancesClaimDisjointRowsAndNeverOvertakeAnEarlierRowOfTheSameKey() throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        relay.stop(stopped::countDown);
        assertThat(stopped.await(30, TimeUnit.SECONDS)).isTrue();
        try {
            db.sql("DELETE FROM outbox WHERE status = 'PENDING'").fetch().rowsUpdated().block(Duration.ofSeconds(10));
            Duration lease = Duration.ofSeconds(60);

            // The rule, step by step: keys A, B, A, C.
            long a = 9_000_001, b = 9_000_002, c = 9_000_003;
            List<Long> rows = new ArrayList<>();
            for (long key : List.of(a, b, a, c)) {
                commitEvent(EventType.PAYMENT_COMPLETED, key, paymentPayload(1, 1, key, key));
                rows.add(db.sql("SELECT MAX(id) FROM outbox").map(r -> r.get(0, Long.class)).one().block());
            }
            assertThat(ids(store.claim("x", 2, lease))).containsExactly(rows.get(0), rows.get(1));
            assertThat(ids(store.claim("y", 10, lease))).as("second A waits behind the first, leased by x").containsExactly(rows.get(3));
            store.markSent(List.of(rows.get(0))).block();
            store.release("x", List.of(rows.get(1))).block();
            assertThat(ids(store.claim("y", 10, lease))).containsExactly(rows.get(1), rows.get(2));
            store.markSent(rows).block();

            // Racing: two instances drain 300 rows over 20 keys, "sending" each batch for a few ms.
            Map<Long, String> keyOf = new ConcurrentHashMap<>();
            for (int i = 0; i < 300; i++) {
                long key = 9_100_000 + i % 20;
                String id = commitEvent(EventType.PAYMENT_COMPLETED, key, paymentPayload(1, 1, key, i));
                keyOf.put(db.sql("SELECT id FROM outbox WHERE event_id = ?").bind(0, id).map(r -> r.get(0, Long.class)).one().block(), Long.toString(key));
            }
            List<Long> all = keyOf.keySet().stream().sorted().toList();
            Set<Long> done = ConcurrentHashMap.newKeySet();
            List<String> violations = new CopyOnWriteArrayList<>();
            Map<Long, String> claimedBy = new ConcurrentHashMap<>();
            Function<String, Mono<Long>> drain = instance -> Mono.defer(() -> store.claim(instance, 7, lease))
                    .flatMap(batch -> {
                        for (int i = 0; i < batch.size(); i++) {
                            OutboxStore.Row row = batch.get(i);
                            if (claimedBy.putIfAbsent(row.id(), instance) != null) {
                                violations.add("row " + row.id() + " claimed twice");
                            }
                            List<Long> sameBatch = batch.subList(0, i).stream().map(OutboxStore.Row::id).toList();
                            all.stream().filter(id -> id < row.id() && keyOf.get(id).equals(row.key()))
                                    .filter(id -> !done.contains(id) && !sameBatch.contains(id))
                                    .findAny()
                                    .ifPresent(id -> violations.add("row " + row.id() + " claimed while earlier " + id + " of its key was out"));
                        }
                        List<Long> ids = batch.stream().map(OutboxStore.Row::id).toList();
                        if (ids.isEmpty()) { // everything left is out with the other instance, or done
                            return Mono.delay(Duration.ofMillis(2)).thenReturn(0L);
                        }
                        return Mono.delay(Duration.ofMillis(3))
                                .then(Mono.fromRunnable(() -> done.addAll(ids)))
                                .then(store.markSent(ids))
                                .thenReturn((long) batch.size());
                    })
                    .repeat()
                    .takeUntil(n -> done.size() == all.size())
                    .reduce(0L, Long::sum);
            List<Long> counts = Flux.merge(drain.apply("x"), drain.apply("y")).collectList().block(Duration.ofSeconds(60));
            assertThat(violations).isEmpty();
            assertThat(claimedBy.keySet()).containsExactlyInAnyOrderElementsOf(all);
            assertThat(counts.stream().mapToLong(Long::longValue).sum()).isEqualTo(300);
            assertThat(counts).allMatch(n -> n > 0); // both instances did work
        } finally {
            relay.start();
        }
    }

    private static List<Long> ids(Mono<List<OutboxStore.Row>> claim) {
        return claim.block(Duration.ofSeconds(10)).stream().map(OutboxStore.Row::id).toList();
    }

    private long sentAmong(List<String> ids) {
        return count("SELECT COUNT(*) FROM outbox WHERE status = 'SENT' AND event_id IN (" + placeholders(ids) + ")", ids.toArray());
    }

    private long notificationsAmong(List<String> ids) {
        return count("SELECT COUNT(*) FROM notification WHERE event_id IN (" + placeholders(ids) + ")", ids.toArray());
    }

    private static String placeholders(List<String> ids) {
        return ids.stream().map(i -> "?").collect(Collectors.joining(","));
    }

}
