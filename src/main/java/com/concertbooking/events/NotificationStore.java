package com.concertbooking.events;

import java.time.Instant;
import java.time.LocalDateTime;
import java.util.List;

import com.concertbooking.support.TimeConfig;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The {@code notification} table: one row per consumed event, unique on the event id. */
@Repository
class NotificationStore {

    public record Notification(String eventId, String type, long userId, Long reservationId, Long paymentId,
                               Instant createdAt) {}

    private final DatabaseClient db;

    public NotificationStore(DatabaseClient db) {
        this.db = db;
    }

    /**
     * Records a notification unless one exists for the event id (a redelivery). One auto-committed
     * statement: when it returns, the row is durable and the offset may be acknowledged.
     * IGNORE only ever meets the duplicate key: every field is validated before (see NotificationConsumer).
     *
     * @return true when recorded now, false for a duplicate
     */
    public Mono<Boolean> recordOnce(Notification n) {
        return recordAllOnce(List.of(n)).map(rows -> rows > 0);
    }

    /**
     * {@link #recordOnce} for many events in one statement (one commit): the consumer's fast path.
     * @return how many were recorded now (the others were duplicates)
     */
    public Mono<Long> recordAllOnce(List<Notification> notifications) {
        if (notifications.isEmpty()) {
            return Mono.just(0L);
        }
        StringBuilder sql = new StringBuilder(
                "INSERT IGNORE INTO notification (event_id, type, user_id, reservation_id, payment_id, created_at) VALUES ");
        for (int i = 0; i < notifications.size(); i++) {
            sql.append(i == 0 ? "" : ",").append("(:e").append(i).append(",:t").append(i).append(",:u").append(i)
                    .append(",:r").append(i).append(",:p").append(i).append(",:c").append(i).append(')');
        }
        DatabaseClient.GenericExecuteSpec spec = db.sql(sql.toString());
        for (int i = 0; i < notifications.size(); i++) {
            Notification n = notifications.get(i);
            spec = spec.bind("e" + i, n.eventId()).bind("t" + i, n.type()).bind("u" + i, n.userId())
                    .bind("c" + i, TimeConfig.toDb(n.createdAt()));
            spec = n.reservationId() == null ? spec.bindNull("r" + i, Long.class) : spec.bind("r" + i, n.reservationId());
            spec = n.paymentId() == null ? spec.bindNull("p" + i, Long.class) : spec.bind("p" + i, n.paymentId());
        }
        return spec.fetch().rowsUpdated();
    }

    /** A user's notifications, newest first (at most {@code limit}). */
    public Flux<Notification> byUser(long userId, int limit) {
        return db.sql("""
                        SELECT event_id, type, user_id, reservation_id, payment_id, created_at FROM notification
                        WHERE user_id = :userId ORDER BY id DESC LIMIT :limit""")
                .bind("userId", userId)
                .bind("limit", limit)
                .map(r -> new Notification(r.get("event_id", String.class), r.get("type", String.class), r.get("user_id", Long.class),
                        r.get("reservation_id", Long.class), r.get("payment_id", Long.class),
                        TimeConfig.fromDb(r.get("created_at", LocalDateTime.class))))
                .all();
    }
}
