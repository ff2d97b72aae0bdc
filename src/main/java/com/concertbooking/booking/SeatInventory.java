package com.concertbooking.booking;

import java.time.Instant;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import com.concertbooking.catalog.CatalogStore;
import com.concertbooking.catalog.SeatMaps;
import com.concertbooking.support.TimeConfig;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.NoTransactionException;
import org.springframework.transaction.reactive.TransactionSynchronization;
import org.springframework.transaction.reactive.TransactionSynchronizationManager;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The one owner of seat state (issue 10): every write of the {@code seat} table in the application goes
 * through this class (holds, payments, cancels, hold expiry, and the admin's seat creation), and so does the
 * one rule "free = AVAILABLE, or HELD with held_until <= now" ({@link CatalogStore#SEAT_IS_FREE}, the single
 * SQL text of it, shared with the catalog's seat-map reads). Every write runs inside its caller's transaction
 * (lock order: reservation, seat, user) and announces the date's change to {@link SeatMaps} after that
 * transaction commits (a rolled-back write announces nothing).
 */
@Component
public class SeatInventory {

    /** A run of consecutively numbered seats of one grade and price. */
    public record SeatRun(String grade, long price, int count) {}

    /** The immutable facts of one seat of a date (with the names a reservation shows), plus whether it is free at the time asked. */
    record SeatFacts(long concertId, String concertName, Instant startsAt, String venue, Long seatId, String grade, Long price, boolean free) {}

    static final int INSERT_BATCH = 1000;
    private static final String RELEASE = "UPDATE seat SET status = 'AVAILABLE', held_until = NULL, reservation_id = NULL, version = version + 1 ";

    private final DatabaseClient db;
    private final SeatMaps seatMaps;

    public SeatInventory(DatabaseClient db, SeatMaps seatMaps) {
        this.db = db;
        this.seatMaps = seatMaps;
    }

    /** The date's concert, start and venue, and its seat by number (seat fields null when there is no such seat). Empty: no such date. */
    Mono<SeatFacts> find(long concertDateId, int seatNumber, Instant now) {
        return db.sql("SELECT d.concert_id, c.name AS concert_name, d.starts_at, v.name AS venue, s.id AS seat_id, s.grade, s.price, "
                        + "CASE WHEN " + CatalogStore.SEAT_IS_FREE + " THEN 1 ELSE 0 END AS free "
                        + "FROM concert_date d JOIN concert c ON c.id = d.concert_id JOIN venue v ON v.id = d.venue_id "
                        + "LEFT JOIN seat s ON s.concert_date_id = d.id AND s.seat_number = :number WHERE d.id = :dateId")
                .bind("dateId", concertDateId).bind("number", seatNumber).bind("now", TimeConfig.toDb(now))
                .map(r -> new SeatFacts(r.get("concert_id", Long.class), r.get("concert_name", String.class),
                        TimeConfig.fromDb(r.get("starts_at", LocalDateTime.class)), r.get("venue", String.class), r.get("seat_id", Long.class),
                        r.get("grade", String.class), r.get("price", Long.class), Integer.valueOf(1).equals(r.get("free", Integer.class))))
                .one();
    }

    /**
     * Takes a free seat until {@code heldUntil}. The WHERE clause is the whole concurrency control: of N racing
     * statements exactly one finds the seat free; the others wait for its row lock, re-read the committed row
     * and match nothing. The seat points to its reservation once that exists ({@link #attach}).
     *
     * @return true when this call took the seat
     */
    Mono<Boolean> hold(long concertDateId, long seatId, Instant heldUntil, Instant now) {
        return db.sql("UPDATE seat s SET s.status = 'HELD', s.held_until = :heldUntil, s.reservation_id = NULL, "
                        + "s.version = s.version + 1 WHERE s.id = :seatId AND " + CatalogStore.SEAT_IS_FREE)
                .bind("heldUntil", TimeConfig.toDb(heldUntil)).bind("seatId", seatId).bind("now", TimeConfig.toDb(now))
                .fetch().rowsUpdated()
                .flatMap(n -> n == 1 ? announce(concertDateId).thenReturn(true) : Mono.just(false));
    }

    /** Records which reservation holds the seat just taken by {@link #hold} (same transaction). */
    Mono<Void> attach(long seatId, long reservationId) {
        return db.sql("UPDATE seat SET reservation_id = :id WHERE id = :seatId")
                .bind("id", reservationId).bind("seatId", seatId)
                .fetch().rowsUpdated().then();
    }

    /**
     * Sells the seats of these reservations (one seat each), in one statement.
     *
     * @return true when every seat was still its reservation's hold and is now SOLD (false: the caller rolls back)
     */
    Mono<Boolean> sell(long concertDateId, List<Long> seatIds, List<Long> reservationIds) {
        // A seat points to at most one reservation, and a reservation's seat is the only seat that points to it, so
        // "id IN seats AND reservation_id IN reservations" matches exactly the pairs.
        return db.sql("UPDATE seat SET status = 'SOLD', held_until = NULL, version = version + 1 "
                        + "WHERE id IN (:seatIds) AND reservation_id IN (:ids) AND status = 'HELD'")
                .bind("seatIds", seatIds).bind("ids", reservationIds)
                .fetch().rowsUpdated()
                .flatMap(n -> n == seatIds.size() ? announce(concertDateId).thenReturn(true) : Mono.just(false));
    }

    /** Returns the seat to sale, only while it still belongs to this reservation. */
    Mono<Void> release(long concertDateId, long seatId, long reservationId) {
        return db.sql(RELEASE + "WHERE id = :seatId AND reservation_id = :id")
                .bind("seatId", seatId).bind("id", reservationId)
                .fetch().rowsUpdated()
                .flatMap(n -> n > 0 ? announce(concertDateId) : Mono.empty());
    }

    /**
     * Returns the seats of lapsed holds to sale; a seat re-held by someone else after expiry points to another
     * reservation and is left alone.
     */
    Mono<Void> releaseLapsed(Collection<Long> concertDateIds, Collection<Long> seatIds, Collection<Long> reservationIds) {
        return db.sql(RELEASE + "WHERE id IN (:seatIds) AND status = 'HELD' AND reservation_id IN (:ids)")
                .bind("seatIds", List.copyOf(seatIds)).bind("ids", List.copyOf(reservationIds))
                .fetch().rowsUpdated()
                .thenMany(Flux.fromIterable(concertDateIds).distinct().concatMap(this::announce))
                .then();
    }

    /** Creates a new date's seats, numbered from 1 in the order given, in multi-row batches (the admin's transaction). */
    public Mono<Void> create(long concertDateId, List<SeatRun> runs) {
        record SeatValue(int number, String grade, long price) {}
        List<SeatValue> seats = new ArrayList<>();
        int number = 1;
        for (SeatRun run : runs) {
            for (int i = 0; i < run.count(); i++) {
                seats.add(new SeatValue(number++, run.grade(), run.price()));
            }
        }
        return Flux.fromIterable(seats).buffer(INSERT_BATCH).concatMap(batch -> {
            StringBuilder sql = new StringBuilder("INSERT INTO seat (concert_date_id, seat_number, grade, price) VALUES ");
            for (int i = 0; i < batch.size(); i++) {
                sql.append(i == 0 ? "" : ",").append("(:d, :n").append(i).append(", :g").append(i).append(", :p").append(i).append(')');
            }
            var spec = db.sql(sql.toString()).bind("d", concertDateId);
            for (int i = 0; i < batch.size(); i++) {
                SeatValue seat = batch.get(i);
                spec = spec.bind("n" + i, seat.number()).bind("g" + i, seat.grade()).bind("p" + i, seat.price());
            }
            return spec.fetch().rowsUpdated();
        }).then(announce(concertDateId));
    }

    /**
     * Tells the seat maps about the date once the surrounding transaction has committed (after commit, so a
     * reader never caches a state that is then rolled back); without a transaction, at once.
     */
    private Mono<Void> announce(long concertDateId) {
        return TransactionSynchronizationManager.forCurrentTransaction()
                .filter(TransactionSynchronizationManager::isSynchronizationActive)
                .map(manager -> {
                    manager.registerSynchronization(new TransactionSynchronization() {
                        @Override
                        public Mono<Void> afterCommit() {
                            return Mono.fromRunnable(() -> seatMaps.changed(concertDateId));
                        }
                    });
                    return true;
                })
                .onErrorResume(NoTransactionException.class, e -> Mono.empty())
                .switchIfEmpty(Mono.fromRunnable(() -> seatMaps.changed(concertDateId)))
                .then();
    }
}
