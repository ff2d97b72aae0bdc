package com.concertbooking.events;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.concertbooking.auth.QueuePass;
import com.concertbooking.support.IntegrationTest;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;
import tools.jackson.databind.ObjectMapper;

/** Shared helpers of the event tests (issue 5). */
abstract class EventsTestSupport extends IntegrationTest {

    @Autowired
    protected OutboxWriter outboxWriter;
    @Autowired
    protected DatabaseClient db;
    @Autowired
    protected ReactiveTransactionManager transactionManager;
    @Autowired
    protected EventsProperties events;
    @Autowired
    protected BrokerProperties broker;
    @Autowired
    protected ObjectMapper json;

    protected String bootstrap() {
        return broker.bootstrapServers();
    }

    protected String paymentTopic() {
        return events.topic(OutboxWriter.EventType.PAYMENT_COMPLETED.topic());
    }

    /** A payment-completed payload as the booking code writes it. */
    protected static Map<String, Object> paymentPayload(long userId, long concertId, long dateId, long n) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("userId", userId);
        p.put("reservationId", 900_000 + n);
        p.put("paymentId", 800_000 + n);
        p.put("concertId", concertId);
        p.put("concertDateId", dateId);
        p.put("seatId", 700_000 + n);
        p.put("seatNumber", (int) (n % 50) + 1);
        p.put("amount", 100_000);
        return p;
    }

    /** Appends an event in its own committed transaction, as a payment would. @return the event id */
    protected String commitEvent(OutboxWriter.EventType type, long dateId, Map<String, Object> payload) {
        return TransactionalOperator.create(transactionManager)
                .transactional(outboxWriter.append(type, dateId, payload))
                .block(Duration.ofSeconds(10));
    }

    protected long count(String sql, Object... args) {
        DatabaseClient.GenericExecuteSpec spec = db.sql(sql);
        for (int i = 0; i < args.length; i++) {
            spec = spec.bind(i, args[i]);
        }
        return spec.map(r -> ((Number) r.get(0)).longValue()).one().defaultIfEmpty(0L).block(Duration.ofSeconds(10));
    }

    protected long notifications(String eventId) {
        return count("SELECT COUNT(*) FROM notification WHERE event_id = ?", eventId);
    }

    protected String outboxStatus(String eventId) {
        return db.sql("SELECT status FROM outbox WHERE event_id = ?").bind(0, eventId)
                .map(r -> r.get(0, String.class)).one().defaultIfEmpty("ABSENT").block(Duration.ofSeconds(10));
    }

    // ------------------------------------------------------------------ real payments over HTTP

    /** The result of one paid booking. */
    protected record Paid(long userId, long reservationId, long paymentId, long concertDateId, int seatNumber, long amount) {}

    private org.springframework.test.web.reactive.server.WebTestClient admin() {
        return web.mutate().defaultHeader(ADMIN_KEY_HEADER, ADMIN_KEY).build();
    }

    /** Stops timed admissions of a concert: tests admit explicitly. */
    protected void pauseAdmissions(long concertId) {
        admin().put().uri("/api/v1/admin/queues/{id}/policy", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("admitPerTick", 0, "maxActive", 5000)).exchange().expectStatus().isOk();
    }

    protected String joinQueue(long userId, long concertId) {
        Map<?, ?> body = asUser(userId).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concertId))
                .exchange().expectStatus().is2xxSuccessful()
                .expectBody(Map.class).returnResult().getResponseBody();
        return (String) body.get("token");
    }

    protected void admit(long concertId, int count) {
        admin().post().uri("/api/v1/admin/queues/{id}/admit", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("count", count)).exchange().expectStatus().isOk();
    }

    /** Holds a seat with an ACTIVE token; returns the reservation id. */
    protected long hold(String token, long userId, long dateId, int seatNumber) {
        Map<?, ?> body = asUser(userId).post().uri("/api/v1/reservations").header(QueuePass.HEADER, token)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", userId, "concertDateId", dateId, "seatNumber", seatNumber))
                .exchange().expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) body.get("reservationId")).longValue();
    }

    /** Pays a held reservation; the response must be 200 COMPLETED. */
    protected Map<?, ?> pay(String token, long userId, long reservationId) {
        return asUser(userId).post().uri("/api/v1/payments/pay").header(QueuePass.HEADER, token)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", userId, "reservationId", reservationId))
                .exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    /** The outbox event ids written for a reservation, oldest first. */
    protected List<String> eventIdsOf(long reservationId) {
        return db.sql("SELECT event_id FROM outbox WHERE JSON_VALUE(payload, '$.reservationId') = ? ORDER BY id")
                .bind(0, Long.toString(reservationId))
                .map(r -> r.get(0, String.class)).all().collectList().block(Duration.ofSeconds(10));
    }
}
