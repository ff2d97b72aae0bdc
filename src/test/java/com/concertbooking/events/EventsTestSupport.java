package com.concertbooking.events;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import com.concertbooking.support.BookingProperties;
import com.concertbooking.support.IntegrationTest;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Mono;
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
    protected BookingProperties booking;
    @Autowired
    protected ObjectMapper json;

    protected String bootstrap() {
        return booking.kafka().bootstrapServers();
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

    protected static Mono<Void> nothing() {
        return Mono.empty();
    }
}
