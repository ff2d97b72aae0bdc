package com.concertbooking.support;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.boot.webtestclient.autoconfigure.AutoConfigureWebTestClient;
import org.springframework.context.annotation.Import;
import org.springframework.http.MediaType;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Base of API tests: the whole application on a random port, against real MariaDB/MySQL, Redis and
 * Kafka (see {@link TestInfrastructure}). All test classes share one application context. Every test
 * creates its own users and concerts, so tests are independent of order and of each other.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "BOOKING_DB_NAME=${BOOKING_TEST_DB_NAME:booking_test}",
        "booking.token.secret=test-secret-test-secret-test-secret-0123456789",
        "logging.structured.format.console=",
})
@AutoConfigureWebTestClient(timeout = "30s")
@ActiveProfiles("test")
@Import(TestInfrastructure.class)
public abstract class IntegrationTest {

    public static final String ADMIN_KEY = "dev-admin-key";
    private static final AtomicLong SEQUENCE = new AtomicLong(System.nanoTime() % 1_000_000);
    private static final ConnectionProvider MANY_CONNECTIONS = ConnectionProvider.builder("tests")
            .maxConnections(2000).pendingAcquireMaxCount(-1).pendingAcquireTimeout(Duration.ofSeconds(60)).build();

    /**
     * One id per test JVM. Events of this run go to topics and a consumer group of their own, so test
     * runs sharing a broker (and a database name) never consume each other's events.
     */
    public static final String RUN_ID = Long.toString(System.currentTimeMillis(), 36);

    static {
        NoBlockingOnEventLoops.install();
    }

    @DynamicPropertySource
    static void eventsOfThisRun(DynamicPropertyRegistry registry) {
        registry.add("booking.events.topic-prefix", () -> "it-" + RUN_ID + ".");
        registry.add("booking.events.consumer.group", () -> "it-" + RUN_ID + "-notifications");
        if (TestInfrastructure.redisCluster()) {
            registry.add("spring.data.redis.cluster.nodes", () -> "${BOOKING_REDIS_CLUSTER_NODES}");
        }
    }

    @Autowired
    protected WebTestClient web;

    @LocalServerPort
    protected int port;

    @AfterEach
    void noEventLoopWasBlocked() {
        assertThat(NoBlockingOnEventLoops.drainViolations()).as("blocking calls on event-loop threads").isEmpty();
    }

    /** A reactive client for racing many requests at once (WebTestClient exchanges one at a time). */
    protected WebClient racingClient() {
        return WebClient.builder()
                .baseUrl("http://127.0.0.1:" + port)
                .clientConnector(new ReactorClientHttpConnector(HttpClient.create(MANY_CONNECTIONS).responseTimeout(Duration.ofSeconds(60))))
                .build();
    }

    /** The Prometheus scrape page; it outgrows the API's 64 KB codec limit as meters accumulate. */
    protected String prometheusScrape() {
        return web.mutate().codecs(c -> c.defaultCodecs().maxInMemorySize(8 * 1024 * 1024)).build()
                .get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
    }

    protected static String unique(String prefix) {
        return prefix + "-" + SEQUENCE.incrementAndGet();
    }

    protected long createUser(long balance) {
        Map<?, ?> body = web.post().uri("/api/v1/admin/users")
                .header(AdminKeyFilter.HEADER, ADMIN_KEY)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", unique("fan"), "balance", balance))
                .exchange()
                .expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) body.get("userId")).longValue();
    }

    /** A concert with the given dates (days from now), each with {@code seats} seats (first 10 VIP, rest R). */
    protected CreatedConcert createConcert(int seats, int... daysFromNow) {
        Instant base = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        List<Map<String, Object>> dates = java.util.Arrays.stream(daysFromNow.length == 0 ? new int[] {30} : daysFromNow)
                .mapToObj(d -> Map.<String, Object>of(
                        "startsAt", base.plus(Duration.ofDays(d)).toString(),
                        "venue", unique("Hall"),
                        "seats", seats > 10
                                ? List.of(Map.of("grade", "VIP", "price", 150_000, "count", 10), Map.of("grade", "R", "price", 100_000, "count", seats - 10))
                                : List.of(Map.of("grade", "R", "price", 100_000, "count", seats))))
                .toList();
        Map<?, ?> body = web.post().uri("/api/v1/admin/concerts")
                .header(AdminKeyFilter.HEADER, ADMIN_KEY)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", unique("Concert"), "description", "test", "dates", dates))
                .exchange()
                .expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        List<Long> dateIds = ((List<?>) body.get("dates")).stream()
                .map(d -> ((Number) ((Map<?, ?>) d).get("concertDateId")).longValue()).toList();
        return new CreatedConcert(((Number) body.get("concertId")).longValue(), dateIds);
    }

    public record CreatedConcert(long concertId, List<Long> dateIds) {
        public long firstDateId() {
            return dateIds.get(0);
        }
    }
}
