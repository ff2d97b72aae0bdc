package com.concertbooking.queue;

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

    protected long newConcert() {
        return createConcert(20).concertId();
    }

    protected Map<?, ?> join(long userId, long concertId) {
        return web.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", userId, "concertId", concertId))
                .exchange().expectStatus().is2xxSuccessful()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    protected String token(long userId, long concertId) {
        return (String) join(userId, concertId).get("token");
    }

    /** Pauses ticking admissions for a concert, so tests admit explicitly and deterministically. */
    protected void pause(long concertId) {
        policy(concertId, Map.of("admitPerTick", 0, "maxActive", 5000));
    }

    protected Map<?, ?> policy(long concertId, Map<String, ?> policy) {
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

    private WebTestClient admin() {
        return web.mutate().defaultHeader(AdminKeyFilter.HEADER, ADMIN_KEY).build();
    }

    protected static long num(Object o) {
        return ((Number) o).longValue();
    }
}
