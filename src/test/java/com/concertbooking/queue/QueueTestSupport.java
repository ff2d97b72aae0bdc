package com.concertbooking.queue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

import com.concertbooking.support.AdminKeyFilter;
import com.concertbooking.support.IntegrationTest;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Helpers for queue tests, also usable by other features' tests that need an ACTIVE token:
 * {@link #activeToken(long, long)} joins and admits through the admin API.
 * Queue user ids need no users row (the queue does not look users up), so tests draw fresh ones.
 */
public abstract class QueueTestSupport extends IntegrationTest {

    private static final AtomicLong USERS = new AtomicLong(ThreadLocalRandom.current().nextLong(1_000_000_000L, 8_000_000_000L));

    protected static long freshUserId() {
        return USERS.addAndGet(ThreadLocalRandom.current().nextInt(1, 5));
    }

    @org.springframework.beans.factory.annotation.Autowired
    protected org.springframework.data.redis.core.ReactiveStringRedisTemplate redis;

    private final java.util.Set<Long> touchedConcerts = java.util.concurrent.ConcurrentHashMap.newKeySet();

    protected long newConcert() {
        return createConcert(20).concertId();
    }

    /** Queues of this test's concerts go away with it, so waiting users do not pile up across tests and runs. */
    @org.junit.jupiter.api.AfterEach
    void removeQueues() {
        for (long concert : touchedConcerts) {
            // One DEL per key: on a Redis Cluster a multi-key DEL would have to stay within one slot.
            reactor.core.publisher.Flux.just("wait", "active", "seen", "entry", "seq", "stats", "hist", "tick", "policy")
                    .flatMap(part -> redis.delete(QueueStore.key(concert, part))).then().block(Duration.ofSeconds(5));
        }
        touchedConcerts.clear();
    }

    protected Map<?, ?> join(long userId, long concertId) {
        return web.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", userId, "concertId", concertId))
                .exchange().expectStatus().is2xxSuccessful()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    /**
     * {@code n} joins at once (users base..base+n-1). The machine is shared, so a join may meet a Redis timeout
     * (503 with Retry-After); like a real client it retries, which is safe because issuing is idempotent.
     */
    protected java.util.List<Map<?, ?>> joinAll(long concertId, long base, int n, int concurrency) {
        var client = racingClient();
        return reactor.core.publisher.Flux.range(0, n)
                .flatMap(i -> client.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(Map.of("userId", base + i, "concertId", concertId))
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

    protected WebTestClient.ResponseSpec status(String token) {
        return web.get().uri("/api/v1/queues/status").header(HttpHeaders.AUTHORIZATION, "Bearer " + token).exchange();
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
    protected Map<Long, String> activeTokens(long concertId, java.util.List<Long> userIds) {
        policy(concertId, Map.of("admitPerTick", 0, "maxActive", Math.max(5000, userIds.size())));
        Map<Long, String> tokens = new java.util.HashMap<>();
        for (long user : userIds) {
            tokens.put(user, token(user, concertId));
        }
        org.assertj.core.api.Assertions.assertThat(admit(concertId, userIds.size())).isEqualTo(userIds.size());
        return tokens;
    }

    private WebTestClient admin() {
        return web.mutate().defaultHeader(AdminKeyFilter.HEADER, ADMIN_KEY).build();
    }

    protected static long num(Object o) {
        return ((Number) o).longValue();
    }
}
