package com.concertbooking.events;

import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import com.concertbooking.support.TimeConfig;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import tools.jackson.databind.ObjectMapper;

/**
 * Writes one outbox row per state change. It must be called inside the transaction that makes the
 * change, so the event exists exactly when the change committed (SPEC 4.6). The relay delivers it.
 */
@Component
public class OutboxWriter {

    /**
     * The event types of SPEC sections 7 and 14 and their topics. The first four concern one user's reservation
     * (keyed by concert date; the notification consumer records them); a sale's opening concerns a whole concert
     * (keyed by concert).
     */
    public enum EventType {
        PAYMENT_COMPLETED("payment-completed", "booking.payment.completed"),
        PAYMENT_REFUNDED("payment-refunded", "booking.payment.refunded"),
        RESERVATION_CANCELLED("reservation-cancelled", "booking.reservation.cancelled"),
        RESERVATION_EXPIRED("reservation-expired", "booking.reservation.expired"),
        SALE_OPENED("sale-opened", "booking.sale.opened", false);

        private final String type;
        private final String topic;
        private final boolean notifies;

        EventType(String type, String topic) {
            this(type, topic, true);
        }

        EventType(String type, String topic, boolean notifies) {
            this.type = type;
            this.topic = topic;
            this.notifies = notifies;
        }

        /** Whether the notification consumer records this type (a user's event), or leaves it to other consumers. */
        public boolean notifies() {
            return notifies;
        }

        public String type() {
            return type;
        }

        public String topic() {
            return topic;
        }
    }

    private final DatabaseClient db;
    private final ObjectMapper json;
    private final Clock clock;
    // Wakes the relay right after a write; it also polls, so a missed signal only adds latency.
    private final Sinks.Many<Long> appended = Sinks.many().multicast().directBestEffort();

    public OutboxWriter(DatabaseClient db, ObjectMapper json, Clock clock) {
        this.db = db;
        this.json = json;
        this.clock = clock;
    }

    /**
     * Appends an event. The record value is JSON: {"eventId","type","occurredAt", ...payload}; the
     * Kafka key is the concert date id (the concert's, for a sale event), so one date's events stay in order on
     * one partition.
     */
    public Mono<String> append(EventType type, long concertDateId, Map<String, Object> payload) {
        String eventId = UUID.randomUUID().toString();
        Instant now = clock.instant();
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("eventId", eventId);
        value.put("type", type.type());
        value.put("occurredAt", now.toString());
        value.putAll(payload);
        return db.sql("""
                        INSERT INTO outbox (event_id, event_type, topic, message_key, payload, status, created_at)
                        VALUES (:eventId, :type, :topic, :key, :payload, 'PENDING', :createdAt)""")
                .bind("eventId", eventId)
                .bind("type", type.type())
                .bind("topic", type.topic())
                .bind("key", Long.toString(concertDateId))
                .bind("payload", json.writeValueAsString(value))
                .bind("createdAt", TimeConfig.toDb(now))
                .fetch().rowsUpdated()
                .doOnSuccess(n -> appended.tryEmitNext(concertDateId))
                .thenReturn(eventId);
    }

    /** Signals (best effort) that rows were appended; the relay listens to wake up early. */
    public Flux<Long> appended() {
        return appended.asFlux();
    }
}
