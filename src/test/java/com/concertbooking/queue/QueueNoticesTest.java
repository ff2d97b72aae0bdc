package com.concertbooking.queue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.Disposable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What a waiting fan is told besides the position (issue 17): the queue ID to read out to support (and support's
 * look-up), the operator's message, and sold out, as SPEC 3 and 14 say, in bodies and on the stream.
 */
class QueueNoticesTest extends QueueTestSupport {

    private static final ParameterizedTypeReference<ServerSentEvent<Map<String, Object>>> EVENT = new ParameterizedTypeReference<>() {};
    private static final Duration WAIT = Duration.ofSeconds(15);

    private Disposable stream(String token, List<ServerSentEvent<Map<String, Object>>> into) {
        return racingClient().get().uri("/api/v1/queues/stream?token={t}", token).retrieve().bodyToFlux(EVENT).subscribe(into::add);
    }

    private static List<Map<String, Object>> data(List<ServerSentEvent<Map<String, Object>>> all, String name) {
        return all.stream().filter(e -> name.equals(e.event())).map(e -> e.data() == null ? Map.<String, Object>of() : e.data()).toList();
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec message(long concert, Map<String, ?> body) {
        return asAdmin().put().uri("/api/v1/admin/queues/{id}/message", concert).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(body).exchange();
    }

    @Test
    void theQueueIdIsReadOutToSupportWhoFindTheEntry() {
        long concert = newConcert();
        pause(concert);
        long first = freshUserId();
        long second = freshUserId();
        token(first, concert);
        Map<?, ?> ticket = join(second, concert);
        String queueId = (String) ticket.get("queueId");
        assertThat(queueId).matches("[0-9ABCDEFGHJKMNPQRSTVWXYZ]{10}");
        assertThat(statusBody((String) ticket.get("token")).get("queueId")).isEqualTo(queueId);
        assertThat(join(second, concert).get("queueId")).as("asking again: the same code").isEqualTo(queueId);

        Map<?, ?> entry = asAdmin().get().uri("/api/v1/admin/queues/{c}/entries/{q}", concert, queueId.toLowerCase())
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        assertThat(m(entry)).containsEntry("queueId", queueId).containsEntry("state", "WAITING").containsKeys("joinedAt", "lastSeenAt");
        assertThat(num(entry.get("userId"))).isEqualTo(second);
        assertThat(num(entry.get("position"))).isEqualTo(2);

        // Not a queue ID: 400. Somebody else's code, or this code in another concert's queue: nobody there, 404.
        for (String bad : List.of("ABC", "ABCDEFGHJU", "ABCDEFGHJK1", "%20")) {
            asAdmin().get().uri("/api/v1/admin/queues/{c}/entries/{q}", concert, bad).exchange()
                    .expectStatus().isBadRequest();
        }
        long other = newConcert();
        asAdmin().get().uri("/api/v1/admin/queues/{c}/entries/{q}", other, queueId).exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.code").isEqualTo("NOT_FOUND");
        // Support only: fans cannot look entries up.
        asUser(second).get().uri("/api/v1/admin/queues/{c}/entries/{q}", concert, queueId).exchange().expectStatus().is4xxClientError();
        // Once admitted, support sees it.
        admit(concert, 2);
        asAdmin().get().uri("/api/v1/admin/queues/{c}/entries/{q}", concert, queueId).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.state").isEqualTo("ACTIVE").jsonPath("$.activeUntil").exists();
    }

    @Test
    void theOperatorsMessageReachesBodiesAndStreams() {
        long concert = newConcert();
        pause(concert);
        String token = token(freshUserId(), concert);
        List<ServerSentEvent<Map<String, Object>>> events = new CopyOnWriteArrayList<>();
        Disposable d = stream(token, events);
        try {
            await().atMost(WAIT).until(() -> !data(events, "position").isEmpty());
            assertThat(data(events, "message")).as("no message yet, none sent").isEmpty();
            message(concert, Map.of("text", "  Doors open at 19:00. Extra seats at 12:00!  ")).expectStatus().isOk()
                    .expectBody().jsonPath("$.message").isEqualTo("Doors open at 19:00. Extra seats at 12:00!");
            await().atMost(WAIT).until(() -> !data(events, "message").isEmpty());
            assertThat(data(events, "message").get(0)).containsEntry("text", "Doors open at 19:00. Extra seats at 12:00!");
            assertThat(statusBody(token).get("message")).isEqualTo("Doors open at 19:00. Extra seats at 12:00!");
            assertThat(queueView(concert).get("message")).isEqualTo("Doors open at 19:00. Extra seats at 12:00!");

            java.util.HashMap<String, Object> clear = new java.util.HashMap<>();
            clear.put("text", null);
            message(concert, clear).expectStatus().isOk().expectBody().jsonPath("$.message").isEmpty();
            await().atMost(WAIT).until(() -> data(events, "message").size() == 2);
            assertThat(data(events, "message").get(1)).containsEntry("text", null);
            assertThat(m(statusBody(token))).doesNotContainKey("message");
            assertThat(data(events, "message")).hasSize(2); // keep-alives do not repeat it
        } finally {
            d.dispose();
        }
        // 280 characters at most (characters, not bytes), no control characters, not blank.
        message(concert, Map.of("text", "é".repeat(280))).expectStatus().isOk();
        for (Object bad : List.of("x".repeat(281), "🎫".repeat(281), "   ", "line\u0007bell", 42)) {
            message(concert, Map.of("text", bad)).expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        asAdmin().put().uri("/api/v1/admin/queues/{id}/message", 987_654_321).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("text", "hi")).exchange().expectStatus().isNotFound();
        web.put().uri("/api/v1/admin/queues/{id}/message", concert).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("text", "hi")).exchange().expectStatus().isUnauthorized();
        // Kept in the database: the message survives the loss of the Redis copy.
        message(concert, Map.of("text", "Still here")).expectStatus().isOk();
        redis.delete(QueueStore.key(concert, "policy")).block(WAIT);
        assertThat(queueView(concert).get("message")).isEqualTo("Still here");
    }

    /**
     * SPEC 14: with no seat free or held, waiting fans get {@code event: soldout} and the stream ends, new tokens are
     * 409 SOLD_OUT (a fan already queued keeps the place), and when a seat comes back the queue admits again.
     */
    @Test
    void soldOutEndsStreamsRefusesNewTokensAndAdmissionResumesWhenASeatComesBack() {
        CreatedConcert concert = createConcert(1); // one seat: sold out once it is paid
        long concertId = concert.concertId();
        long buyer = createUser(1_000_000);
        String buyerToken = activeToken(buyer, concertId);
        long waiter = freshUserId();
        String waiterToken = token(waiter, concertId);
        List<ServerSentEvent<Map<String, Object>>> events = new CopyOnWriteArrayList<>();
        Disposable d = stream(waiterToken, events);
        long paid;
        try {
            await().atMost(WAIT).until(() -> !data(events, "position").isEmpty());
            paid = holdWith(buyerToken, concert.firstDateId(), 1);
            payWith(buyerToken, paid);
            await().atMost(WAIT).until(() -> !data(events, "soldout").isEmpty());
            assertThat(data(events, "soldout").get(0)).containsEntry("soldOut", true);
            await().atMost(WAIT).until(d::isDisposed);
        } finally {
            d.dispose();
        }
        asUser(freshUserId()).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concertId)).exchange().expectStatus().isEqualTo(409)
                .expectBody().jsonPath("$.code").isEqualTo("SOLD_OUT");
        Map<?, ?> kept = join(waiter, concertId);
        assertThat(kept.get("token")).isEqualTo(waiterToken);
        assertThat(kept.get("soldOut")).isEqualTo(true);
        assertThat(kept.get("admission")).isEqualTo("PAUSED");
        assertThat(kept.get("estimatedWaitSeconds")).isNull();
        // A stream opened now says sold out at once and ends.
        List<ServerSentEvent<Map<String, Object>>> late = racingClient().get().uri("/api/v1/queues/stream?token={t}", waiterToken)
                .retrieve().bodyToFlux(EVENT).collectList().block(WAIT);
        assertThat(late).extracting(ServerSentEvent::event).containsExactly("soldout");

        // A refund brings a seat back: admission resumes (ticks at 1 per second), and new fans may queue again.
        policy(concertId, Map.of("admitPerTick", 1, "maxActive", 5000));
        asUser(buyer).delete().uri("/api/v1/reservations/{id}?userId={u}", paid, buyer).exchange().expectStatus().isOk();
        await().atMost(Duration.ofSeconds(20)).until(() -> "ACTIVE".equals(statusBody(waiterToken).get("status")));
        asUser(freshUserId()).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concertId)).exchange().expectStatus().isCreated();
    }

    /** Honest waiting: the admission state on bodies and streams; no estimate unless it runs. */
    @Test
    void admissionStateIsToldAndEstimatesOnlyWhileRunning() {
        long concert = newConcert();
        policy(concert, Map.of("admitPerTick", 1, "maxActive", 1));
        String first = token(freshUserId(), concert);
        await().atMost(WAIT).until(() -> "ACTIVE".equals(statusBody(first).get("status")));
        String second = token(freshUserId(), concert);
        List<ServerSentEvent<Map<String, Object>>> events = new CopyOnWriteArrayList<>();
        Disposable d = stream(second, events);
        try {
            Map<?, ?> full = statusBody(second);
            assertThat(full.get("admission")).isEqualTo("CAP_FULL");
            assertThat(full.get("estimatedWaitSeconds")).isNull();
            await().atMost(WAIT).until(() -> data(events, "position").stream().anyMatch(p -> "CAP_FULL".equals(p.get("admission"))));
            pause(concert);
            await().atMost(WAIT).until(() -> data(events, "position").stream().anyMatch(p -> "PAUSED".equals(p.get("admission"))));
            assertThat(data(events, "position")).allSatisfy(p -> assertThat(p.get("estimatedWaitSeconds")).isNull());
            policy(concert, Map.of("admitPerTick", 1, "maxActive", 10));
            await().atMost(WAIT).until(() -> !data(events, "active").isEmpty());
        } finally {
            d.dispose();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> m(Map<?, ?> body) {
        return (Map<String, Object>) body;
    }
}
