package com.concertbooking.booking;

import java.time.Instant;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.concertbooking.booking.SeatsChanged.Change;
import com.concertbooking.booking.SeatsChanged.State;
import com.concertbooking.support.TimeConfig;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.NoTransactionException;
import org.springframework.transaction.reactive.TransactionalEventPublisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The one owner of seat state (issue 10): every write of the {@code seat} table in the application goes
 * through this class (holds, payments, cancels, hold expiry, and the admin's seat creation), and so does the
 * one rule "free = AVAILABLE, or HELD with held_until <= now" ({@link #SEAT_IS_FREE}, the single SQL text of it).
 * Every write runs inside its caller's transaction (lock order: reservation, seat, user) and announces what it
 * changed as a {@link SeatsChanged} event after that transaction commits (a rolled-back write announces nothing).
 * <p>
 * It also owns the free-seat counts ({@code seat_count}, issue 18): each seat change adjusts its count row inside a
 * statement the write makes anyway (a multi-table UPDATE of the seat and its count row; for a hold, its last
 * statement, {@link #attach}), so counting costs no extra round trip. A
 * date's counts are spread over {@value #COUNT_SLOTS} rows per grade (slot = seat number mod {@value #COUNT_SLOTS}): a
 * count row stays locked until its transaction commits, and one row per date would serialise all its holds.
 * {@code free} counts AVAILABLE seats: a hold that ran out is counted as taken until the sweeper releases it
 * ({@link #releaseLapsed}, which gives the count back), and taking such a seat again leaves the count alone.
 */
@Component
public class SeatInventory {

    /** A seat is free when AVAILABLE, or HELD with a hold that has already run out (exact expiry). */
    static final String SEAT_IS_FREE = "(s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= :now))";

    /** A run of consecutively numbered seats of one grade and price. */
    public record SeatRun(String grade, long price, int count) {}

    /**
     * The immutable facts of one seat of a date (with the names a reservation shows), plus whether it is free at the
     * time asked and whether it is AVAILABLE (not a hold that ran out): which of the two hold statements to try first.
     */
    record SeatFacts(long concertId, String concertName, Instant startsAt, String venue, Long seatId, String grade, Long price,
                     boolean free, boolean available) {}

    static final int INSERT_BATCH = 1000;
    /** Count rows per date and grade. Changing it needs a migration that re-spreads seat_count. */
    static final int COUNT_SLOTS = 8;
    /** The seat row {@code s} joined to its count row {@code c}: a statement that changes both is one round trip. */
    private static final String SEAT_AND_COUNT = "seat s JOIN seat_count c ON c.concert_date_id = s.concert_date_id AND c.grade = s.grade "
            + "AND c.slot = s.seat_number MOD " + COUNT_SLOTS + " ";
    private static final String RELEASE = "s.status = 'AVAILABLE', s.held_until = NULL, s.reservation_id = NULL, s.version = s.version + 1";

    private final DatabaseClient db;
    private final TransactionalEventPublisher events;
    private final ApplicationEventPublisher plainEvents;

    public SeatInventory(DatabaseClient db, ApplicationEventPublisher events) {
        this.db = db;
        this.events = new TransactionalEventPublisher(events);
        this.plainEvents = events;
    }

    /** The date's concert, start and venue, and its seat by number (seat fields null when there is no such seat). Empty: no such date. */
    Mono<SeatFacts> find(long concertDateId, int seatNumber, Instant now) {
        return db.sql("SELECT d.concert_id, c.name AS concert_name, d.starts_at, v.name AS venue, s.id AS seat_id, s.grade, s.price, "
                        + "CASE WHEN " + SEAT_IS_FREE + " THEN 1 ELSE 0 END AS free, CASE WHEN s.status = 'AVAILABLE' THEN 1 ELSE 0 END AS available "
                        + "FROM concert_date d JOIN concert c ON c.id = d.concert_id JOIN venue v ON v.id = d.venue_id "
                        + "LEFT JOIN seat s ON s.concert_date_id = d.id AND s.seat_number = :number WHERE d.id = :dateId")
                .bind("dateId", concertDateId).bind("number", seatNumber).bind("now", TimeConfig.toDb(now))
                .map(r -> new SeatFacts(r.get("concert_id", Long.class), r.get("concert_name", String.class),
                        TimeConfig.fromDb(r.get("starts_at", LocalDateTime.class)), r.get("venue", String.class), r.get("seat_id", Long.class),
                        r.get("grade", String.class), r.get("price", Long.class), Integer.valueOf(1).equals(r.get("free", Integer.class)),
                        Integer.valueOf(1).equals(r.get("available", Integer.class))))
                .one();
    }

    /** How {@link #hold} took a seat: from AVAILABLE (its count row must go down) or from a hold that ran out (it must not). */
    enum Taken { NO, FROM_AVAILABLE, FROM_LAPSED }

    /**
     * Takes a free seat until {@code heldUntil}. The WHERE clause is the whole concurrency control: of N racing
     * statements exactly one finds the seat free; the others wait for its row lock, re-read the committed row
     * and match nothing. The seat points to its reservation once that exists ({@link #attach}), and its count row
     * moves in that same later statement.
     * <p>
     * Two statements, because the count moves only for an AVAILABLE seat: taking a seat whose hold ran out (not yet
     * swept, so never counted free again) leaves the count alone. {@code likelyAvailable} (from {@link #find}) picks
     * which one runs first; the other runs only when the first matched nothing (the sweeper released the seat
     * meanwhile, or a racer took it).
     */
    Mono<Taken> hold(long seatId, boolean likelyAvailable, Instant heldUntil, Instant now) {
        Mono<Taken> fromAvailable = db.sql("UPDATE seat s SET s.status = 'HELD', s.held_until = :heldUntil, s.reservation_id = NULL, "
                        + "s.version = s.version + 1 WHERE s.id = :seatId AND s.status = 'AVAILABLE'")
                .bind("heldUntil", TimeConfig.toDb(heldUntil)).bind("seatId", seatId)
                .fetch().rowsUpdated().map(n -> n > 0 ? Taken.FROM_AVAILABLE : Taken.NO);
        Mono<Taken> fromLapsed = db.sql("UPDATE seat s SET s.status = 'HELD', s.held_until = :heldUntil, s.reservation_id = NULL, "
                        + "s.version = s.version + 1 WHERE s.id = :seatId AND s.status = 'HELD' AND s.held_until <= :now")
                .bind("heldUntil", TimeConfig.toDb(heldUntil)).bind("seatId", seatId).bind("now", TimeConfig.toDb(now))
                .fetch().rowsUpdated().map(n -> n > 0 ? Taken.FROM_LAPSED : Taken.NO);
        Mono<Taken> first = likelyAvailable ? fromAvailable : fromLapsed;
        Mono<Taken> second = likelyAvailable ? fromLapsed : fromAvailable;
        return first.flatMap(taken -> taken != Taken.NO ? Mono.just(taken) : second);
    }

    /**
     * Records which reservation holds the seat just taken by {@link #hold} (same transaction), lowers its count row
     * when it was taken from AVAILABLE, and announces the hold. The count moves here, in the transaction's last
     * statement, rather than in {@link #hold}: a count row is shared by the seats of its slot, and its lock is held
     * from this statement to the commit only, not through the hold's other statements.
     */
    Mono<Void> attach(long concertDateId, int seatNumber, long seatId, long reservationId, Instant heldUntil, Taken taken) {
        String sql = taken == Taken.FROM_AVAILABLE
                ? "UPDATE " + SEAT_AND_COUNT + "SET s.reservation_id = :id, c.free = c.free - 1 WHERE s.id = :seatId"
                : "UPDATE seat SET reservation_id = :id WHERE id = :seatId";
        return db.sql(sql)
                .bind("id", reservationId).bind("seatId", seatId)
                .fetch().rowsUpdated()
                .then(announce(concertDateId, List.of(new Change(seatNumber, State.HELD, reservationId, heldUntil))));
    }

    /** @return true when the seat was still this reservation's hold and is now SOLD (counted sold in the same statement) */
    Mono<Boolean> sell(long concertDateId, int seatNumber, long seatId, long reservationId) {
        return db.sql("UPDATE " + SEAT_AND_COUNT + "SET s.status = 'SOLD', s.held_until = NULL, s.version = s.version + 1, c.sold = c.sold + 1 "
                        + "WHERE s.id = :seatId AND s.reservation_id = :id AND s.status = 'HELD'")
                .bind("seatId", seatId).bind("id", reservationId)
                .fetch().rowsUpdated()
                .flatMap(n -> n > 0 ? announce(concertDateId, List.of(new Change(seatNumber, State.SOLD, reservationId, null))).thenReturn(true)
                        : Mono.just(false));
    }

    /**
     * Sells the seats of several reservations of one date (a payment of several, SPEC 3) in two statements whatever
     * their number: the seats (only while each is still its reservation's hold), then their count rows from a grouped
     * read of those seats. Not one multi-table UPDATE as for one seat: that would move a count row shared by two of the
     * seats only once. One seat goes through {@link #sell}.
     *
     * @return true when every seat was still its reservation's hold and is now SOLD (false: the caller rolls back)
     */
    Mono<Boolean> sellAll(long concertDateId, List<ReservationService.Reservation> reservations) {
        if (reservations.size() == 1) {
            ReservationService.Reservation r = reservations.get(0);
            return sell(concertDateId, r.seatNumber(), r.seatId(), r.reservationId());
        }
        // A seat points to at most one reservation, and a reservation's seat is the only seat that points to it, so
        // "id IN seats AND reservation_id IN reservations" matches exactly the pairs. Sorted: rows are locked in key order.
        List<Long> seatIds = reservations.stream().map(ReservationService.Reservation::seatId).sorted().toList();
        List<Long> ids = reservations.stream().map(ReservationService.Reservation::reservationId).sorted().toList();
        return db.sql("UPDATE seat s SET s.status = 'SOLD', s.held_until = NULL, s.version = s.version + 1 "
                        + "WHERE s.id IN (:seatIds) AND s.reservation_id IN (:ids) AND s.status = 'HELD'")
                .bind("seatIds", seatIds).bind("ids", ids)
                .fetch().rowsUpdated()
                .flatMap(n -> n != seatIds.size() ? Mono.just(false)
                        : db.sql("UPDATE seat_count c JOIN (SELECT concert_date_id AS d, grade AS g, seat_number MOD " + COUNT_SLOTS
                                        + " AS sl, COUNT(*) AS n FROM seat WHERE id IN (:seatIds) GROUP BY concert_date_id, grade, sl) x "
                                        + "ON c.concert_date_id = x.d AND c.grade = x.g AND c.slot = x.sl SET c.sold = c.sold + x.n")
                                .bind("seatIds", seatIds)
                                .fetch().rowsUpdated()
                                .then(announce(concertDateId, reservations.stream()
                                        .map(r -> new Change(r.seatNumber(), State.SOLD, r.reservationId(), null)).toList()))
                                .thenReturn(true));
    }

    /**
     * Returns the seat to sale, only while it still belongs to this reservation and is {@code HELD} or (a refund)
     * {@code SOLD}, as the caller says: the count row learns which in the same statement.
     */
    Mono<Void> release(long concertDateId, int seatNumber, long seatId, long reservationId, boolean sold) {
        return db.sql("UPDATE " + SEAT_AND_COUNT + "SET " + RELEASE + ", c.free = c.free + 1" + (sold ? ", c.sold = c.sold - 1" : "")
                        + " WHERE s.id = :seatId AND s.reservation_id = :id AND s.status = '" + (sold ? "SOLD" : "HELD") + "'")
                .bind("seatId", seatId).bind("id", reservationId)
                .fetch().rowsUpdated()
                .flatMap(n -> n > 0 ? announce(concertDateId, List.of(new Change(seatNumber, State.FREE, reservationId, null))) : Mono.empty());
    }

    /**
     * Returns the seats of lapsed holds to sale and gives them back to their count rows; a seat re-held by someone
     * else after expiry points to another reservation and is left alone (it was never counted free again). The
     * sweeper's batch is off the request path, so it may take three statements: lock the seats still held by these
     * reservations, release them, and add them to their count rows (one statement for all rows).
     */
    Mono<Void> releaseLapsed(Collection<Long> seatIds, Collection<Long> reservationIds) {
        record Lapsed(long seatId, long concertDateId, String grade, int seatNumber, long reservationId) {}
        String match = " WHERE s.id IN (:seatIds) AND s.status = 'HELD' AND s.reservation_id IN (:ids)";
        return db.sql("SELECT s.id, s.concert_date_id, s.grade, s.seat_number, s.reservation_id FROM seat s" + match + " FOR UPDATE")
                .bind("seatIds", List.copyOf(seatIds)).bind("ids", List.copyOf(reservationIds))
                .map(r -> new Lapsed(r.get("id", Long.class), r.get("concert_date_id", Long.class), r.get("grade", String.class),
                        r.get("seat_number", Integer.class), r.get("reservation_id", Long.class)))
                .all().collectList()
                .flatMap(lapsed -> {
                    if (lapsed.isEmpty()) {
                        return Mono.empty();
                    }
                    List<Long> ids = lapsed.stream().map(Lapsed::seatId).toList();
                    record CountRow(long concertDateId, String grade, int slot) {}
                    // In key order: two sweepers lock shared count rows in the same order (no deadlock between them).
                    Map<CountRow, Integer> perRow = new java.util.TreeMap<>(java.util.Comparator.comparingLong(CountRow::concertDateId)
                            .thenComparing(CountRow::grade).thenComparingInt(CountRow::slot));
                    Map<Long, List<Change>> perDate = new LinkedHashMap<>();
                    for (Lapsed l : lapsed) {
                        perRow.merge(new CountRow(l.concertDateId(), l.grade(), Math.floorMod(l.seatNumber(), COUNT_SLOTS)), 1, Integer::sum);
                        perDate.computeIfAbsent(l.concertDateId(), d -> new ArrayList<>())
                                .add(new Change(l.seatNumber(), State.FREE, l.reservationId(), null));
                    }
                    StringBuilder rows = new StringBuilder();
                    for (int i = 0; i < perRow.size(); i++) {
                        rows.append(i == 0 ? "" : " UNION ALL ")
                                .append("SELECT :d").append(i).append(" AS d, :g").append(i).append(" AS g, :s").append(i).append(" AS sl, :n").append(i).append(" AS n");
                    }
                    var adjust = db.sql("UPDATE seat_count c JOIN (" + rows + ") x ON c.concert_date_id = x.d AND c.grade = x.g AND c.slot = x.sl "
                            + "SET c.free = c.free + x.n");
                    int i = 0;
                    for (Map.Entry<CountRow, Integer> e : perRow.entrySet()) {
                        CountRow row = e.getKey();
                        adjust = adjust.bind("d" + i, row.concertDateId()).bind("g" + i, row.grade()).bind("s" + i, row.slot()).bind("n" + i, e.getValue());
                        i++;
                    }
                    return db.sql("UPDATE seat s SET " + RELEASE + " WHERE s.id IN (:seatIds)").bind("seatIds", ids)
                            .fetch().rowsUpdated()
                            .then(adjust.fetch().rowsUpdated())
                            .thenMany(Flux.fromIterable(perDate.entrySet()).concatMap(e -> announce(e.getKey(), e.getValue())))
                            .then();
                });
    }

    /**
     * Creates a new date's seats, numbered from 1 in the order given, in multi-row batches, and their count rows (the
     * admin's transaction). A new date has no availability anywhere yet: nothing to announce.
     */
    public Mono<Void> create(long concertDateId, List<SeatRun> runs) {
        record SeatValue(int number, String grade, long price) {}
        List<SeatValue> seats = new ArrayList<>();
        Map<String, int[]> counts = new LinkedHashMap<>(); // grade -> seats per slot
        int number = 1;
        for (SeatRun run : runs) {
            for (int i = 0; i < run.count(); i++) {
                counts.computeIfAbsent(run.grade(), g -> new int[COUNT_SLOTS])[number % COUNT_SLOTS]++;
                seats.add(new SeatValue(number++, run.grade(), run.price()));
            }
        }
        Mono<Long> insertSeats = Flux.fromIterable(seats).buffer(INSERT_BATCH).concatMap(batch -> {
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
        }).reduce(0L, Long::sum);
        StringBuilder sql = new StringBuilder("INSERT INTO seat_count (concert_date_id, grade, slot, seats, free, sold) VALUES ");
        List<Object[]> rows = new ArrayList<>();
        counts.forEach((grade, perSlot) -> {
            for (int slot = 0; slot < COUNT_SLOTS; slot++) {
                if (perSlot[slot] > 0) {
                    sql.append(rows.isEmpty() ? "" : ",").append("(:d, :g").append(rows.size()).append(", :s").append(rows.size())
                            .append(", :n").append(rows.size()).append(", :n").append(rows.size()).append(", 0)");
                    rows.add(new Object[] {grade, slot, perSlot[slot]});
                }
            }
        });
        if (rows.isEmpty()) {
            return insertSeats.then();
        }
        var insertCounts = db.sql(sql.toString()).bind("d", concertDateId);
        for (int i = 0; i < rows.size(); i++) {
            insertCounts = insertCounts.bind("g" + i, rows.get(i)[0]).bind("s" + i, rows.get(i)[1]).bind("n" + i, rows.get(i)[2]);
        }
        return insertSeats.then(insertCounts.fetch().rowsUpdated()).then();
    }

    /**
     * Announces the changes once the surrounding transaction has committed (Spring's transactional events: the
     * listeners are {@code @TransactionalEventListener}s, run after commit, so a reader never shows a state that is
     * then rolled back); without a transaction, at once.
     */
    private Mono<Void> announce(long concertDateId, List<Change> changes) {
        SeatsChanged event = new SeatsChanged(concertDateId, changes);
        return events.publishEvent(event)
                .onErrorResume(NoTransactionException.class, e -> Mono.fromRunnable(() -> plainEvents.publishEvent(event)));
    }
}
