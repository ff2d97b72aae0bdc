package com.concertbooking.booking;

import java.util.Collection;
import java.util.List;

import com.concertbooking.booking.ReservationService.Reservation;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * SPEC 4.13, the one owner of {@code ticket_count}: a user's held plus paid seats of a concert, at most the concert's
 * {@code max_tickets_per_user} (or booking.reservation.max-tickets-per-user). Every method runs inside its caller's
 * transaction: a hold takes a ticket, a cancel, a refund or an expiry gives one back; a payment changes nothing (the
 * seat stays the user's).
 *
 * <p>Taking is one statement, right after the hold took its seat: an upsert that adds one only below the limit and records
 * in {@code refused} whether it did not. Its row lock also serialises one user's holds of one concert, which is what
 * the per-date hold count (SPEC 4.10) needs: it replaces the lock on the user's row the hold took before, so the hold
 * costs no extra round trip. The affected-row count cannot tell "refused" from "inserted" (the driver asks for found
 * rows), so the row itself comes back ({@code RETURNING tickets, refused}); the count before the take also tells the
 * hold whether the per-date hold limit can be reached at all (see {@code ReservationService.holdTx}).
 */
@Component
class PurchaseLimits {

    private final DatabaseClient db;
    private final int defaultLimit;

    PurchaseLimits(DatabaseClient db, ReservationProperties properties) {
        this.db = db;
        this.defaultLimit = properties.maxTicketsPerUser();
    }

    /**
     * The outcome of {@link #take}: whether the ticket was taken, and how many seats of the concert the user had
     * (held, lapsed but not yet swept, or paid) just before, as the locked counter row says.
     */
    record Take(boolean taken, int ticketsBefore) {}

    /**
     * Takes one ticket of the concert for the user if below the limit, and locks the user's counter row until the
     * transaction ends. (Assignments run left to right: {@code refused} reads the count before the increment.) The
     * row comes back by MariaDB's {@code INSERT ... RETURNING} (as the payment's balance does): {@code tickets} after
     * the statement, so the count before it is {@code tickets - 1 + refused}.
     */
    Mono<Take> take(long userId, long concertId) {
        return db.sql("""
                        INSERT INTO ticket_count (user_id, concert_id, tickets, refused) VALUES (:userId, :concertId, 1, 0)
                        ON DUPLICATE KEY UPDATE
                          refused = tickets >= COALESCE((SELECT c.max_tickets_per_user FROM concert c WHERE c.id = :concertId), :defaultLimit),
                          tickets = tickets + 1 - refused
                        RETURNING tickets, refused""")
                .bind("userId", userId).bind("concertId", concertId).bind("defaultLimit", defaultLimit)
                .map(r -> {
                    int tickets = r.get("tickets", Integer.class);
                    int refused = r.get("refused", Integer.class);
                    return new Take(refused == 0, tickets - 1 + refused);
                })
                .one();
    }

    /** The user's limit for the concert (for the refusal's words). */
    Mono<Integer> limit(long concertId) {
        return db.sql("SELECT COALESCE(max_tickets_per_user, :defaultLimit) AS l FROM concert WHERE id = :id")
                .bind("id", concertId).bind("defaultLimit", defaultLimit)
                .map(r -> r.get("l", Integer.class)).one().defaultIfEmpty(defaultLimit);
    }

    /** Gives back one ticket (a cancelled hold or a refunded seat). */
    Mono<Void> giveBack(long userId, long concertId) {
        return db.sql("UPDATE ticket_count SET tickets = tickets - 1 WHERE user_id = :userId AND concert_id = :concertId AND tickets > 0")
                .bind("userId", userId).bind("concertId", concertId).fetch().rowsUpdated().then();
    }

    /** Gives back the tickets of expired holds, one statement per user and concert among them. */
    Mono<Void> giveBack(Collection<Reservation> expired) {
        record Key(long userId, long concertId) {}
        // In key order, so concurrent sweeps lock the counter rows in the same order.
        var counts = expired.stream().collect(java.util.stream.Collectors.groupingBy(r -> new Key(r.userId(), r.concertId()),
                () -> new java.util.TreeMap<Key, Long>(java.util.Comparator.comparingLong(Key::userId).thenComparingLong(Key::concertId)),
                java.util.stream.Collectors.counting()));
        return Flux.fromIterable(List.copyOf(counts.entrySet()))
                .concatMap(e -> db.sql("UPDATE ticket_count SET tickets = GREATEST(tickets - :n, 0) WHERE user_id = :userId AND concert_id = :concertId")
                        .bind("n", e.getValue()).bind("userId", e.getKey().userId()).bind("concertId", e.getKey().concertId())
                        .fetch().rowsUpdated())
                .then();
    }
}
