package com.concertbooking.events;

import java.net.ServerSocket;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.concertbooking.support.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * No broker at all when the application starts (nothing listens on the configured address): it starts,
 * is ready, takes payments, and reports Kafka DOWN with the backlog. Own database, so its relay never
 * holds other contexts' rows.
 */
class KafkaDownAtStartTest extends EventsTestSupport {

    private static ConfigurableApplicationContext context;

    @DynamicPropertySource
    static void noBroker(DynamicPropertyRegistry registry) throws Exception {
        assumeThat(TestInfrastructure.useContainers()).isFalse();
        String database = System.getenv().getOrDefault("BOOKING_TEST_DB_NAME", "booking_test") + "_nokafka";
        try (var c = DriverManager.getConnection("jdbc:mariadb://127.0.0.1:3306/", "booking", "booking")) {
            c.createStatement().execute("CREATE DATABASE IF NOT EXISTS `" + database + "`");
        }
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort(); // closed again at once: connections are refused
        }
        registry.add("booking.kafka.bootstrap-servers", () -> "127.0.0.1:" + closedPort);
        registry.add("BOOKING_DB_NAME", () -> database);
        // A database of its own means concert ids of its own: on the shared Redis they would collide with the main
        // test database's concerts (same queue keys); a Redis database of its own keeps them apart (Cluster has only 0).
        registry.add("spring.data.redis.database", () -> TestInfrastructure.redisCluster() ? 0 : 2);
        registry.add("booking.events.admin-timeout", () -> "2s");
    }

    @Autowired
    ConfigurableApplicationContext applicationContext;
    @Autowired
    io.micrometer.core.instrument.MeterRegistry registry;

    @BeforeEach
    void remember() {
        context = applicationContext;
    }

    @AfterAll
    static void quiet() {
        if (context != null) { // the context stays cached; stop its clients retrying a broker that never comes
            context.getBean(NotificationConsumer.class).stop();
            context.getBean(OutboxRelay.class).stop();
        }
    }

    @Test
    void theServiceStartsIsReadyAndTakesPaymentsWithoutABroker() {
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP");

        long userId = createUser(1_000_000);
        CreatedConcert concert = createConcert(5);
        pauseAdmissions(concert.concertId());
        String token = joinQueue(userId, concert.concertId());
        admit(concert.concertId(), 1);
        long reservationId = hold(token, userId, concert.firstDateId(), 1);
        Map<?, ?> paid = pay(token, userId, reservationId);
        assertThat(paid.get("status")).isEqualTo("COMPLETED");

        List<String> events = eventIdsOf(reservationId);
        assertThat(events).hasSize(1);
        assertThat(outboxStatus(events.get(0))).isEqualTo("PENDING");
        await().atMost(Duration.ofSeconds(10)).until(() -> registry.get("booking.outbox.unsent").gauge().value() >= 1);
        asAdmin().get().uri("/actuator/health").exchange().expectBody()
                .jsonPath("$.components.kafka.status").isEqualTo("DOWN")
                .jsonPath("$.components.kafka.details.topicsReady").isEqualTo(false)
                .jsonPath("$.components.kafka.details.outboxUnsent").value(n -> assertThat(((Number) n).longValue()).isGreaterThanOrEqualTo(1))
                .jsonPath("$.components.kafka.details.impact").value(v -> assertThat((String) v).contains("payments continue"));
    }
}
