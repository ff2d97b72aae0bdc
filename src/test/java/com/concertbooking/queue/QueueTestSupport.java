package com.concertbooking.queue;

import com.concertbooking.auth.QueuePass;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.concertbooking.support.IntegrationTest;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Helpers for queue tests, also usable by other features' tests that need an ACTIVE token:
 * {@link #activeToken(long, long)} joins and admits through the admin API. Only existing users join,
 * each signed in with their own access token.
 */
public abstract class QueueTestSupport extends IntegrationTest {

    /** A new user (a row in users, no balance). */
    protected long freshUserId() {
        return createUsers(1, 0).get(0);
    }

    protected List<Long> freshUsers(int n) {
        return createUsers(n, 0);
    }

    @org.springframework.beans.factory.annotation.Autowired
    protected org.springframework.data.redis.core.ReactiveStringRedisTemplate redis;

    @org.springframework.beans.factory.annotation.Autowired
    protected QueueService queueService;

    @org.springframework.beans.factory.annotation.Autowired
    Sales sales;

    @org.springframework.beans.factory.annotation.Autowired
    WaitEstimates waits;

    @org.springframework.beans.factory.annotation.Autowired
    private org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory appConnections;

    private final List<org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory> otherConnections =
            new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Redis connections of their own, as another instance of the service would have (closed after the test). */
    protected org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory anotherConnection() {
        var connections = appConnections.getClusterConfiguration() != null
                ? new org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory(appConnections.getClusterConfiguration())
                : new org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory(appConnections.getStandaloneConfiguration());
        connections.setEagerInitialization(true); // connect here, on the test thread, not lazily on a non-blocking one
        connections.afterPropertiesSet();
        connections.start();
        otherConnections.add(connections);
        return connections;
    }

    @org.junit.jupiter.api.AfterEach
    void closeOtherConnections() {
        otherConnections.forEach(org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory::destroy);
        otherConnections.clear();
    }

    private final java.util.Set<Long> touchedConcerts = java.util.concurrent.ConcurrentHashMap.newKeySet();

    protected long newConcert() {
        return createConcert(20).concertId();
    }

    /** Queues of this test's concerts go away with it, so waiting users do not pile up across tests and runs. */
    @org.junit.jupiter.api.AfterEach
    void removeQueues() {
        for (long concert : touchedConcerts) {
            // One DEL per key: on a Redis Cluster a multi-key DEL would have to stay within one slot.
            reactor.core.publisher.Flux.just("wait", "active", "seen", "entry", "seq", "stats", "tick", "policy", "cohort", "sale")
                    .flatMap(part -> redis.delete(QueueStore.key(concert, part))).then().block(Duration.ofSeconds(5));
        }
        touchedConcerts.clear();
    }

    protected Map<?, ?> join(long userId, long concertId) {
        return asUser(userId).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concertId))
                .exchange().expectStatus().is2xxSuccessful()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    /**
     * These users join at once. The machine is shared, so a join may meet a Redis timeout (503 with
     * Retry-After); like a real client it retries, which is safe because issuing is idempotent.
     */
    protected List<Map<?, ?>> joinAll(long concertId, List<Long> users, int concurrency) {
        var client = racingClient();
        Map<Long, String> bearers = bearers(users);
        return reactor.core.publisher.Flux.fromIterable(users)
                .flatMap(user -> client.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                        .header(HttpHeaders.AUTHORIZATION, bearers.get(user))
                        .bodyValue(Map.of("concertId", concertId))
                        .retrieve().bodyToMono(Map.class)
                        .retryWhen(reactor.util.retry.Retry.backoff(5, Duration.ofMillis(200))
                                .filter(e -> e instanceof org.springframework.web.reactive.function.client.WebClientResponseException.ServiceUnavailable)), concurrency)
                .<Map<?, ?>>map(m -> m)
                .collectList().block(Duration.ofSeconds(120));
    }

    protected String token(long userId, long concertId) {
        return (String) join(userId, concertId).get("token");
    }

    /** Pauses ticking admissions for a concert, so tests admit explicitly and deterministically. */
    protected void pause(long concertId) {
        policy(concertId, Map.of("admitPerTick", 0, "maxActive", 5000));
    }

    protected Map<?, ?> policy(long concertId, Map<String, ?> policy) {
        touchedConcerts.add(concertId);
        return admin().put().uri("/api/v1/admin/queues/{id}/policy", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(policy).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    protected int admit(long concertId, int count) {
        Map<?, ?> body = admin().post().uri("/api/v1/admin/queues/{id}/admit", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("count", count)).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) body.get("admitted")).intValue();
    }

    protected Map<?, ?> queueView(long concertId) {
        return admin().get().uri("/api/v1/admin/queues/{id}", concertId).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    /** Access tokens minted up front on the test thread, for racing clients. */
    protected Map<Long, String> bearers(List<Long> users) {
        Map<Long, String> bearers = new java.util.HashMap<>();
        users.forEach(u -> bearers.put(u, bearerFor(u)));
        return bearers;
    }

    /** Headers of a request by the queue token's own user presenting that token (access token minted and cached). */
    protected java.util.function.Consumer<HttpHeaders> withPass(String queueToken) {
        String bearer = bearerFor(userOf(queueToken));
        return h -> {
            h.set(HttpHeaders.AUTHORIZATION, bearer);
            h.set(QueuePass.HEADER, queueToken);
        };
    }

    /** A client of the queue token's own user presenting that token. */
    protected WebTestClient withQueueToken(String token) {
        return asUser(userOf(token)).mutate().defaultHeader(QueuePass.HEADER, token).build();
    }

    /** Holds a seat as the ACTIVE queue token's user, with that token; the reservation id. */
    protected long holdWith(String token, long concertDateId, int seatNumber) {
        Map<?, ?> body = withQueueToken(token).post().uri("/api/v1/reservations").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", userOf(token), "concertDateId", concertDateId, "seatNumber", seatNumber))
                .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) body.get("reservationId")).longValue();
    }

    /** Pays a held reservation as the ACTIVE queue token's user, with that token (which payment then ends). */
    protected void payWith(String token, long reservationId) {
        withQueueToken(token).post().uri("/api/v1/payments/pay").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", userOf(token), "reservationId", reservationId)).exchange().expectStatus().isOk();
    }

    protected WebTestClient.ResponseSpec status(String token) {
        return withQueueToken(token).get().uri("/api/v1/queues/status").exchange();
    }

    protected Map<?, ?> statusBody(String token) {
        return status(token).expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
    }

    /** A token that is ACTIVE now: pauses the concert's ticks, joins and admits this one user. */
    protected String activeToken(long userId, long concertId) {
        pause(concertId);
        String token = token(userId, concertId);
        admit(concertId, 1);
        org.assertj.core.api.Assertions.assertThat(statusBody(token).get("status")).isEqualTo("ACTIVE");
        return token;
    }

    /**
     * ACTIVE tokens for many users of one concert (e.g. a race of holds): pauses ticks, joins them all, admits them
     * all. Only these users should be waiting in that concert's queue, since admission takes the front.
     */
    protected Map<Long, String> activeTokens(long concertId, List<Long> userIds) {
        policy(concertId, Map.of("admitPerTick", 0, "maxActive", Math.max(5000, userIds.size())));
        Map<Long, String> tokens = new java.util.HashMap<>();
        for (long user : userIds) {
            tokens.put(user, token(user, concertId));
        }
        org.assertj.core.api.Assertions.assertThat(admit(concertId, userIds.size())).isEqualTo(userIds.size());
        return tokens;
    }

    private WebTestClient admin() {
        return asAdmin();
    }

    protected static long num(Object o) {
        return ((Number) o).longValue();
    }
}
