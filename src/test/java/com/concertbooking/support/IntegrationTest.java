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
import com.concertbooking.auth.TestTokens;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;
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
    /** The operators' header (SPEC 3, Admin API), as a client writes it. */
    public static final String ADMIN_KEY_HEADER = "X-Admin-Key";
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

    /** The development issuer's key in tests: fixed, so tests can sign tokens of any shape with it (see auth tests). */
    public static final String DEV_ISSUER_KEY_PEM = testResource("auth/dev-issuer-test-key.pem");

    @DynamicPropertySource
    static void eventsOfThisRun(DynamicPropertyRegistry registry) {
        // A test class with a database of its own sets booking.test.events-id: topics and group of its own too (the
        // main context's consumer would otherwise record some of its events in the other database). A placeholder,
        // because a subclass's @DynamicPropertySource cannot override this one's values.
        registry.add("booking.events.topic-prefix", () -> "${booking.test.events-id:it-" + RUN_ID + "}.");
        registry.add("booking.events.consumer.group", () -> "${booking.test.events-id:it-" + RUN_ID + "}-notifications");
        registry.add("booking.auth.dev-issuer.private-key", () -> DEV_ISSUER_KEY_PEM);
        if (TestInfrastructure.redisCluster()) {
            registry.add("spring.data.redis.cluster.nodes", () -> "${BOOKING_REDIS_CLUSTER_NODES}");
        }
    }

    static String testResource(String name) {
        try (var in = IntegrationTest.class.getClassLoader().getResourceAsStream(name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException | NullPointerException e) {
            throw new IllegalStateException("missing test resource " + name, e);
        }
    }

    @Autowired
    protected WebTestClient web;

    @Autowired
    protected DatabaseClient database;

    private final Map<Long, String> accessTokens = new java.util.concurrent.ConcurrentHashMap<>();

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

    /**
     * Sends exactly this path and query, as given (WebTestClient would encode them): a raw Reactor Netty request through
     * the real server, for encoded, odd and non-canonical spellings.
     */
    protected WebTestClient.ResponseSpec raw(String method, String pathAndQuery, String body, Map<String, String> headers) {
        WebTestClient client = WebTestClient.bindToServer(new ReactorClientHttpConnector(HttpClient.create()))
                .baseUrl("http://127.0.0.1:" + port).build();
        var spec = client.method(org.springframework.http.HttpMethod.valueOf(method))
                .uri(java.net.URI.create("http://127.0.0.1:" + port + pathAndQuery));
        headers.forEach(spec::header);
        if (body != null) {
            return spec.contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
        }
        return spec.exchange();
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

    /** A user made through the admin API (no password: tests sign in with minted tokens, see {@link #accessToken}). */
    protected long createUser(long balance) {
        Map<?, ?> body = asAdmin().post().uri("/api/v1/admin/users")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", unique("fan"), "balance", balance))
                .exchange()
                .expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) body.get("userId")).longValue();
    }

    /** Many users in one INSERT (the admin API one by one would dominate the racing tests' time). */
    protected List<Long> createUsers(int count, long balance) {
        String prefix = unique("bulk");
        String values = java.util.stream.IntStream.range(0, count).mapToObj(i -> "('" + prefix + "-" + i + "', " + balance + ")")
                .collect(java.util.stream.Collectors.joining(","));
        database.sql("INSERT INTO users (username, balance) VALUES " + values).fetch().rowsUpdated().block();
        return database.sql("SELECT id FROM users WHERE username LIKE :p ORDER BY id").bind("p", prefix + "-%")
                .map(r -> r.get("id", Long.class)).all().collectList().block();
    }

    /**
     * An access token for this user as the application's development issuer makes them (its key is the tests' fixed
     * one, {@link #DEV_ISSUER_KEY_PEM}), signed here on the test thread (RSA signing reads the random source: never on
     * an event loop). Cached per test.
     */
    protected String accessToken(long userId) {
        return accessTokens.computeIfAbsent(userId, id -> TestTokens.sign(TestTokens.claims(Long.toString(id)).build()));
    }

    /** The Authorization header value of this user. */
    protected String bearerFor(long userId) {
        return "Bearer " + accessToken(userId);
    }

    /** A client signed in as this user. */
    protected WebTestClient asUser(long userId) {
        return web.mutate().defaultHeader(HttpHeaders.AUTHORIZATION, bearerFor(userId)).build();
    }

    /** A client with the operator's admin key. */
    protected WebTestClient asAdmin() {
        return web.mutate().defaultHeader(ADMIN_KEY_HEADER, ADMIN_KEY).build();
    }

    /** The user a queue token (or any of our JWTs) names: its {@code sub}, read without verifying. */
    protected static long userOf(String jwt) {
        String payload = new String(java.util.Base64.getUrlDecoder().decode(jwt.split("\\.")[1]), java.nio.charset.StandardCharsets.UTF_8);
        var m = java.util.regex.Pattern.compile("\"sub\"\\s*:\\s*\"(\\d+)\"").matcher(payload);
        if (!m.find()) {
            throw new IllegalArgumentException("no numeric sub in " + payload);
        }
        return Long.parseLong(m.group(1));
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
        Map<?, ?> body = asAdmin().post().uri("/api/v1/admin/concerts")
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
