package com.concertbooking.events;

import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * SPEC 7 / issue 5: Kafka down, 100 payments go on, nothing is lost, duplicates are absorbed.
 *
 * <p>Runs against a private broker process (see {@link KafkaBrokerProcess}) and a database of its own,
 * so stopping the broker disturbs no one and no other application context in this JVM relays these rows.
 */
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
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
    MeterRegistry registry;

    @BeforeEach
    void remember() {
        context = applicationContext;
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (context != null) { // our Kafka clients stop before the broker goes; the context closes after the class
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
        web.get().uri("/actuator/health").exchange().expectStatus().isOk()
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
            web.get().uri("/actuator/health").exchange()
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
