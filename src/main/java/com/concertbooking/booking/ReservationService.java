package com.concertbooking.booking;

import java.time.Clock;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.concertbooking.events.OutboxWriter;
import com.concertbooking.events.OutboxWriter.EventType;
import com.concertbooking.auth.ActivePass;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.DeadlockRetry;
import com.concertbooking.support.Transactions;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.TimeConfig;
import com.concertbooking.wallet.WalletStore;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.Readable;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Seat holds, cancellations and hold expiry.
 *
 * <p>The seat row is the single source of truth for "who has this seat", and {@link SeatInventory} its only
 * writer: a hold is one conditional UPDATE of that row (free = AVAILABLE, or HELD with a past
 * {@code held_until}), so the database, not application code, guarantees one live hold or sale per seat, and
 * an expired hold is free at once without waiting for the sweeper. Lock order: reservation, then the user's ticket
 * count of the concert ({@link PurchaseLimits}), then seat, then user (a hold, which has no reservation yet, takes
 * the seat then the ticket count; see {@link #holdTx}).
 */
@Service
class ReservationService {

    /**
     * A reservation as the API shows it (SPEC 3): with what was bought (concert name, the date's start, venue, grade), so
     * a confirmation or a list can say it; paidAt only once paid, refunded only in a cancel response.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Reservation(long reservationId, long userId, long concertId, String concertName, long concertDateId, Instant startsAt,
                              String venue, long seatId, int seatNumber, String grade, long price, ReservationStatus status,
                              Instant heldUntil, Instant paidAt, Long refunded) {

        Reservation withStatus(ReservationStatus newStatus, Long refundedAmount) {
            return new Reservation(reservationId, userId, concertId, concertName, concertDateId, startsAt, venue, seatId, seatNumber, grade,
                    price, newStatus, heldUntil, paidAt, refundedAmount);
        }

        Reservation with(Show show) {
            return new Reservation(reservationId, userId, concertId, show.concertName(), concertDateId, show.startsAt(), show.venue(), seatId,
                    seatNumber, show.grade(), price, status, heldUntil, paidAt, refunded);
        }

        Reservation paid(Instant at) {
            return new Reservation(reservationId, userId, concertId, concertName, concertDateId, startsAt, venue, seatId, seatNumber, grade,
                    price, ReservationStatus.PAID, heldUntil, at, refunded);
        }

        /** The outbox payload shared by all reservation events (the event consumer reads userId, reservationId, paymentId). */
        public Map<String, Object> eventPayload(Long paymentId) {
            Map<String, Object> payload = new LinkedHashMap<>();
            payload.put("userId", userId);
            payload.put("reservationId", reservationId);
            if (paymentId != null) {
                payload.put("paymentId", paymentId);
            }
            payload.put("concertId", concertId);
            payload.put("concertDateId", concertDateId);
            payload.put("seatId", seatId);
            payload.put("seatNumber", seatNumber);
            payload.put("amount", price);
            return payload;
        }
    }

    /** What a reservation is for, as a fan reads it: immutable facts of its concert, date, venue and seat. */
    record Show(String concertName, Instant startsAt, String venue, String grade) {

        /** Reads {@link #SHOW_COLUMNS}. */
        static Show of(Readable r) {
            return new Show(r.get("concert_name", String.class), TimeConfig.fromDb(r.get("starts_at", LocalDateTime.class)),
                    r.get("venue", String.class), r.get("grade", String.class));
        }
    }

    /**
     * A reservation {@code r} with its {@link Show}, joined by primary keys in the same statement (never a query per
     * reservation). No FOR UPDATE may use it: it would lock the concert, date, venue and seat rows too.
     */
    static final String WITH_SHOW = "SELECT r.id, r.user_id, r.concert_id, r.concert_date_id, r.seat_id, r.seat_number, r.price, r.status, "
            + "r.held_until, r.paid_at, c.name AS concert_name, d.starts_at, v.name AS venue, s.grade "
            + "FROM reservation r JOIN concert_date d ON d.id = r.concert_date_id JOIN concert c ON c.id = r.concert_id "
            + "JOIN venue v ON v.id = d.venue_id JOIN seat s ON s.id = r.seat_id ";

    public record HoldCommand(long userId, long concertDateId, int seatNumber, Long concertId) {}

    static final String COLUMNS = "id, user_id, concert_id, concert_date_id, seat_id, seat_number, price, status, held_until, paid_at";
    static final int LIST_LIMIT = 500;

    private final DatabaseClient db;
    private final SeatInventory seats;
    private final PurchaseLimits limits;
    private final IdempotencyKeys idempotencyKeys;
    private final TransactionalOperator tx;
    private final OutboxWriter outbox;
    private final WalletStore wallets;
    private final ReservationProperties settings;
    private final Clock clock;
    private final MeterRegistry meters;

    public ReservationService(DatabaseClient db, SeatInventory seats, PurchaseLimits limits, IdempotencyKeys idempotencyKeys,
                              ReactiveTransactionManager transactions, OutboxWriter outbox, WalletStore wallets, ReservationProperties properties,
                              Clock clock, MeterRegistry meters) {
        this.db = db;
        this.seats = seats;
        this.limits = limits;
        this.idempotencyKeys = idempotencyKeys;
        this.tx = Transactions.readCommitted(transactions);
        this.outbox = outbox;
        this.wallets = wallets;
        this.settings = properties;
        this.clock = clock;
        this.meters = meters;
    }

    /** Maps a reservation row; a HELD one past its held_until is shown EXPIRED even before the sweeper marks it. */
    static Reservation map(Readable r, Instant now) {
        Instant heldUntil = TimeConfig.fromDb(r.get("held_until", LocalDateTime.class));
        ReservationStatus status = ReservationStatus.shown(r.get("status", String.class), heldUntil, now);
        return new Reservation(r.get("id", Long.class), r.get("user_id", Long.class), r.get("concert_id", Long.class), null,
                r.get("concert_date_id", Long.class), null, null, r.get("seat_id", Long.class), r.get("seat_number", Integer.class), null,
                r.get("price", Long.class), status, heldUntil, TimeConfig.fromDb(r.get("paid_at", LocalDateTime.class)), null);
    }

    /** Maps a row of {@link #WITH_SHOW}. */
    static Reservation mapWithShow(Readable r, Instant now) {
        return map(r, now).with(Show.of(r));
    }

    /** The reservation as stored (status not adjusted for expiry). */
    public Mono<Reservation> find(long reservationId) {
        return db.sql("SELECT " + COLUMNS + " FROM reservation WHERE id = :id").bind("id", reservationId)
                .map(r -> map(r, Instant.MIN)).one();
    }

    /** A reservation to pay, with the start of its date (payments stop then) and its concert's ticket limit. */
    record Payable(Reservation reservation, Instant startsAt, int ticketLimit) {}

    /**
     * The reservations as stored (status not adjusted for expiry), each with the start of its concert date and its
     * concert's ticket limit, in one statement; ids that do not exist are simply absent.
     */
    Flux<Payable> findPayable(List<Long> reservationIds) {
        return db.sql(WITH_SHOW.replace(" FROM ", ", COALESCE(c.max_tickets_per_user, :defaultLimit) AS ticket_limit FROM ")
                        + "WHERE r.id IN (:ids)")
                .bind("ids", reservationIds).bind("defaultLimit", settings.maxTicketsPerUser())
                .map(r -> new Payable(mapWithShow(r, Instant.MIN), TimeConfig.fromDb(r.get("starts_at", LocalDateTime.class)),
                        r.get("ticket_limit", Integer.class)))
                .all();
    }

    // ---------------------------------------------------------------- hold

    public Mono<Reservation> hold(ActivePass pass, HoldCommand command) {
        return Mono.defer(() -> holdNow(pass, command));
    }

    /** The caller's own hold (the controller checked the user); the pass must be of the seat's concert. */
    private Mono<Reservation> holdNow(ActivePass pass, HoldCommand command) {
        if (command.concertId() != null) {
            pass.requireConcert(command.concertId());
        }
        Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
        Instant heldUntil = now.plus(settings.holdDuration());
        // Immutable facts (seat id, price, the date's concert) are read before the transaction; the
        // transaction itself is one conditional UPDATE plus the reservation insert.
        return seats.find(command.concertDateId(), command.seatNumber(), now)
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.CONCERT_DATE_NOT_FOUND, "Concert date %d does not exist",
                        command.concertDateId())))
                .flatMap(target -> {
                    pass.requireConcert(target.concertId());
                    if (target.seatId() == null) {
                        return Mono.error(ApiException.of(ErrorCode.SEAT_NOT_FOUND, "Seat %d does not exist on concert date %d",
                                command.seatNumber(), command.concertDateId()));
                    }
                    if (!target.startsAt().isAfter(now)) {
                        return Mono.error(ApiException.of(ErrorCode.CONCERT_DATE_CLOSED, "Concert date %d has already started", command.concertDateId()));
                    }
                    if (!target.free()) {
                        // A plain read turns away most losers of a stampede without a transaction; the
                        // conditional UPDATE below stays the guarantee for those that got past it together.
                        return Mono.error(ApiException.of(ErrorCode.SEAT_UNAVAILABLE, "Seat %d is already held or sold", command.seatNumber()));
                    }
                    Reservation held = new Reservation(0, command.userId(), target.concertId(), target.concertName(), command.concertDateId(),
                            target.startsAt(), target.venue(), target.seatId(), command.seatNumber(), target.grade(), target.price(),
                            ReservationStatus.HELD, heldUntil, null, null);
                    return Mono.defer(() -> holdTx(held, target.available(), now)).as(tx::transactional).retryWhen(DeadlockRetry.backoff());
                })
                .doOnSuccess(r -> meters.counter("booking.holds", "outcome", "held").increment())
                .doOnError(ApiException.class, e -> meters.counter("booking.holds", "outcome", e.code().name()).increment());
    }

    private Mono<Reservation> holdTx(Reservation held, boolean likelyAvailable, Instant now) {
        // 1. The seat: one conditional UPDATE (SeatInventory). Of a stampede on one seat, the losers stop here, having
        //    written nothing else.
        // 2. SPEC 4.13: one upsert takes a ticket of the concert for the user if below the limit (PurchaseLimits). It
        //    also locks the user's counter row of this concert, which serialises exactly one user's holds of one
        //    concert against each other and nothing else, so the per-date hold count (SPEC 4.10) that follows is no
        //    check-then-act race (50 parallel holds of one user would otherwise all count 0 and all insert); under
        //    READ COMMITTED that COUNT sees every hold of this user committed before the lock. This statement
        //    replaces the lock on the user's row the hold took before: the limit costs the hold no extra round trip.
        // Lock order: seat, then ticket count (payments take reservation, seat, user; cancels and the sweeper take
        // reservation, ticket count, seat, user). An unknown user fails the reservation's foreign key below.
        Mono<SeatInventory.Taken> take = seats.hold(held.seatId(), likelyAvailable, held.heldUntil(), now)
                .flatMap(taken -> taken != SeatInventory.Taken.NO ? Mono.just(taken)
                        : Mono.error(ApiException.of(ErrorCode.SEAT_UNAVAILABLE, "Seat %d is already held or sold", held.seatNumber())));
        Mono<PurchaseLimits.Take> ticket = limits.take(held.userId(), held.concertId())
                .flatMap(taken -> taken.taken() ? Mono.just(taken) : limits.limit(held.concertId()).flatMap(limit -> Mono.error(ApiException.of(
                        ErrorCode.PURCHASE_LIMIT_REACHED, "User %d already has %d seats of concert %d (held or paid): the most one fan may have",
                        held.userId(), limit, held.concertId()))));
        // SPEC 4.10's per-date hold limit, counted only when it can be reached: every live hold of the date is one of
        // the concert's seats the counter row counts (a hold raises it, a cancel, a refund or the sweeper's expiry lowers
        // it, each in the same transaction), so with fewer seats than the limit before this take the user holds fewer
        // than the limit on the date, and the COUNT (one round trip inside the transaction) is skipped. With the
        // defaults (4 and 4) a hold never counts: at 4 seats the purchase limit refuses first.
        Mono<Long> withinLimit = ticket.flatMap(taken -> taken.ticketsBefore() < settings.maxHoldsPerUser() ? Mono.just(0L)
                : db.sql("SELECT COUNT(*) AS n FROM reservation WHERE user_id = :userId AND concert_date_id = :dateId AND "
                                + ReservationStatus.LIVE_HOLD)
                        .bind("userId", held.userId()).bind("dateId", held.concertDateId()).bind("now", TimeConfig.toDb(now))
                        .map(r -> r.get("n", Long.class)).one()
                        .flatMap(n -> n < settings.maxHoldsPerUser() ? Mono.just(n)
                                : Mono.error(ApiException.of(ErrorCode.HOLD_LIMIT_REACHED, "User %d already holds %d seats of concert date %d",
                                        held.userId(), n, held.concertDateId()))));
        return take.flatMap(taken -> withinLimit
                .then(db.sql("""
                                INSERT INTO reservation (user_id, concert_id, concert_date_id, seat_id, seat_number, price, status, held_until, created_at)
                                VALUES (:userId, :concertId, :dateId, :seatId, :seatNumber, :price, 'HELD', :heldUntil, :now)""")
                        .bind("userId", held.userId()).bind("concertId", held.concertId()).bind("dateId", held.concertDateId())
                        .bind("seatId", held.seatId()).bind("seatNumber", held.seatNumber()).bind("price", held.price())
                        .bind("heldUntil", TimeConfig.toDb(held.heldUntil())).bind("now", TimeConfig.toDb(now))
                        .filter(s -> s.returnGeneratedValues("id"))
                        .map(r -> r.get("id", Long.class)).one())
                .onErrorMap(org.springframework.dao.DataIntegrityViolationException.class, e -> ApiException.of(
                        ErrorCode.USER_NOT_FOUND, "User %d does not exist", held.userId()))
                .flatMap(id -> seats.attach(held.concertDateId(), held.seatNumber(), held.seatId(), id, held.heldUntil(), taken)
                        .thenReturn(new Reservation(id, held.userId(), held.concertId(), held.concertName(), held.concertDateId(),
                                held.startsAt(), held.venue(), held.seatId(), held.seatNumber(), held.grade(), held.price(),
                                ReservationStatus.HELD, held.heldUntil(), null, null))));
    }

    // ---------------------------------------------------------------- list

    public Mono<List<Reservation>> list(long userId) {
        Instant now = clock.instant();
        return db.sql(WITH_SHOW + "WHERE r.user_id = :userId ORDER BY r.id DESC LIMIT " + LIST_LIMIT)
                .bind("userId", userId)
                .map(r -> mapWithShow(r, now))
                .all().collectList()
                .flatMap(list -> !list.isEmpty() ? Mono.just(list) : wallets.balance(userId)
                        .map(b -> list)
                        .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.USER_NOT_FOUND, "User %d does not exist", userId))));
    }

    // ---------------------------------------------------------------- cancel

    public Mono<Reservation> cancel(long reservationId, long userId) {
        return Mono.defer(() -> cancelTx(reservationId, userId, clock.instant().truncatedTo(ChronoUnit.MICROS)))
                .as(tx::transactional)
                .retryWhen(DeadlockRetry.backoff())
                .doOnSuccess(r -> meters.counter("booking.cancellations", "outcome", r.refunded() != null ? "refunded" : "released").increment());
    }

    private Mono<Reservation> cancelTx(long reservationId, long userId, Instant now) {
        // FOR UPDATE serialises this against a racing payment, the sweeper and a second cancel.
        return db.sql("SELECT " + COLUMNS + ", payment_id FROM reservation WHERE id = :id FOR UPDATE").bind("id", reservationId)
                .map(row -> reactor.util.function.Tuples.of(map(row, now), java.util.Optional.ofNullable(row.get("payment_id", Long.class))))
                .one()
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.RESERVATION_NOT_FOUND, "Reservation %d does not exist", reservationId)))
                .flatMap(found -> {
                    Reservation r = found.getT1();
                    if (r.userId() != userId) {
                        return Mono.error(ApiException.of(ErrorCode.FORBIDDEN, "Reservation %d belongs to another user", reservationId));
                    }
                    if (r.status() != ReservationStatus.HELD && r.status() != ReservationStatus.PAID) {
                        return Mono.error(ApiException.of(ErrorCode.RESERVATION_NOT_CANCELLABLE, "Reservation %d is %s",
                                reservationId, r.status()));
                    }
                    // The date's start decides whether it may be cancelled; the rest of the Show is for the answer (a plain,
                    // non-locking read, in the round trip that reads the start anyway).
                    return db.sql("SELECT c.name AS concert_name, d.starts_at, v.name AS venue, s.grade FROM concert_date d "
                                    + "JOIN concert c ON c.id = d.concert_id JOIN venue v ON v.id = d.venue_id JOIN seat s ON s.id = :seatId "
                                    + "WHERE d.id = :id")
                            .bind("id", r.concertDateId()).bind("seatId", r.seatId())
                            .map(Show::of).one()
                            .map(r::with)
                            .flatMap(shown -> cancelShown(shown, found.getT2().orElse(null), now));
                });
    }

    /** No cancellation (nor refund) once the show has started; a hold is released, a paid seat refunded. */
    private Mono<Reservation> cancelShown(Reservation r, Long linkedPaymentId, Instant now) {
        if (!r.startsAt().isAfter(now)) {
            return Mono.error(ApiException.of(ErrorCode.RESERVATION_NOT_CANCELLABLE, "Concert date %d has already started", r.concertDateId()));
        }
        if (r.status() == ReservationStatus.PAID) {
            return refund(r, linkedPaymentId, now);
        }
        return markCancelled(r, now)
                .then(limits.giveBack(r.userId(), r.concertId()))
                .then(seats.release(r.concertDateId(), r.seatNumber(), r.seatId(), r.reservationId(), false))
                .then(outbox.append(EventType.RESERVATION_CANCELLED, r.concertDateId(), r.eventPayload(null)))
                .thenReturn(r.withStatus(ReservationStatus.CANCELLED, null));
    }

    /**
     * Refunds one paid seat: its own price back, whether its payment covered it alone or several seats ({@code
     * paymentId} is the reservation's link, set only for a payment of several). The payment turns REFUNDED once none
     * of its reservations is still PAID (this one was marked CANCELLED just before).
     */
    private Mono<Reservation> refund(Reservation r, Long linkedPaymentId, Instant now) {
        Mono<Long> paymentId = (linkedPaymentId != null
                ? db.sql("SELECT id FROM payment WHERE id = :pid AND status = 'COMPLETED' FOR UPDATE").bind("pid", linkedPaymentId)
                : db.sql("SELECT id FROM payment WHERE reservation_id = :id AND status = 'COMPLETED' FOR UPDATE").bind("id", r.reservationId()))
                .map(row -> row.get("id", Long.class)).one()
                .switchIfEmpty(Mono.error(() -> new IllegalStateException("PAID reservation " + r.reservationId() + " has no completed payment")));
        return paymentId.flatMap(pid -> markCancelled(r, now)
                .then(limits.giveBack(r.userId(), r.concertId()))
                .then(db.sql("UPDATE payment SET status = 'REFUNDED', refunded_at = :now WHERE id = :id "
                                + "AND NOT EXISTS (SELECT 1 FROM reservation WHERE payment_id = :id AND status = 'PAID')")
                        .bind("now", TimeConfig.toDb(now)).bind("id", pid).fetch().rowsUpdated())
                .then(wallets.credit(r.userId(), r.price()))
                .flatMap(n -> n == 1 ? Mono.just(n) : Mono.error(ApiException.of(ErrorCode.BALANCE_LIMIT_EXCEEDED,
                        "Refunding %d would take the balance above %d", r.price(), WalletStore.MAX_BALANCE)))
                .then(seats.release(r.concertDateId(), r.seatNumber(), r.seatId(), r.reservationId(), true))
                // One state change, one event: the refund (it names the reservation, now CANCELLED).
                .then(outbox.append(EventType.PAYMENT_REFUNDED, r.concertDateId(), withStatus(r.eventPayload(pid), ReservationStatus.CANCELLED.name())))
                .thenReturn(r.withStatus(ReservationStatus.CANCELLED, r.price())));
    }

    private static Map<String, Object> withStatus(Map<String, Object> payload, String status) {
        payload.put("reservationStatus", status);
        return payload;
    }

    private Mono<Long> markCancelled(Reservation r, Instant now) {
        return db.sql("UPDATE reservation SET status = 'CANCELLED', cancelled_at = :now WHERE id = :id")
                .bind("now", TimeConfig.toDb(now)).bind("id", r.reservationId())
                .fetch().rowsUpdated();
    }

    // ---------------------------------------------------------------- expiry

    /**
     * Marks one bounded batch of expired holds EXPIRED, returns their seats and writes one
     * reservation-expired event each. SKIP LOCKED lets several instances sweep side by side, and
     * leaves rows a payment or cancel is working on to them. Uses ix_reservation_status_expiry.
     *
     * @return how many reservations expired
     */
    public Mono<Integer> sweepOnce() {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
        Mono<Integer> work = db.sql("SELECT " + COLUMNS + " FROM reservation WHERE " + ReservationStatus.LAPSED_HOLD + " "
                        + "ORDER BY held_until LIMIT :batch FOR UPDATE SKIP LOCKED")
                .bind("now", TimeConfig.toDb(now)).bind("batch", settings.sweepBatch())
                .map(r -> map(r, now)).all().collectList()
                .flatMap(expired -> {
                    if (expired.isEmpty()) {
                        return Mono.just(0);
                    }
                    List<Long> ids = expired.stream().map(Reservation::reservationId).toList();
                    List<Long> seatIds = expired.stream().map(Reservation::seatId).distinct().toList();
                    return db.sql("UPDATE reservation SET status = 'EXPIRED' WHERE id IN (:ids) AND status = 'HELD'")
                            .bind("ids", ids).fetch().rowsUpdated()
                            .then(limits.giveBack(expired))
                            .then(seats.releaseLapsed(seatIds, ids))
                            .thenMany(Flux.fromIterable(expired).concatMap(r ->
                                    outbox.append(EventType.RESERVATION_EXPIRED, r.concertDateId(), r.eventPayload(null))))
                            .then(Mono.just(expired.size()));
                });
        // Two sweepers (instances) may still meet on shared count rows and the ticket counts: a deadlock retries the batch.
        return work.as(tx::transactional)
                .retryWhen(DeadlockRetry.backoff())
                .doOnSuccess(n -> {
                    if (n != null && n > 0) {
                        meters.counter("booking.holds.expired").increment(n);
                    }
                });
    }

    /** Drops idempotency records past their 24 h lifetime, a bounded batch at a time (ix_idempotency_expiry). */
    public Mono<Long> purgeIdempotencyKeys() {
        return idempotencyKeys.purge(settings.sweepBatch());
    }
}
