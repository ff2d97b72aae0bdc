package com.concertbooking.booking;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.concertbooking.events.OutboxWriter;
import com.concertbooking.events.OutboxWriter.EventType;
import com.concertbooking.queue.QueueService;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.auth.ActivePass;
import com.concertbooking.auth.PaymentPass;
import com.concertbooking.auth.ReplayPass;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.DeadlockRetry;
import com.concertbooking.support.Transactions;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.TimeConfig;
import com.concertbooking.wallet.WalletStore;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Mono;
import tools.jackson.databind.ObjectMapper;

/**
 * Payment of one or several held reservations of one concert date (SPEC 3): one short local transaction (reservations
 * PAID, seats SOLD, one debit of the whole amount, one payment row, one outbox row, and the idempotency record's stored response), with nothing remote
 * inside it. The queue token is ended only after commit.
 *
 * <p>Idempotency-Key (SPEC 4.4): the payment transaction stores the key with its response as its last statement
 * ({@link IdempotencyKeys#record}), so "paid" and "replayable" commit together and a failed attempt leaves the key
 * free for a retry (e.g. after a top-up).
 */
@Service
class PaymentService {

    private static final Logger log = LoggerFactory.getLogger(PaymentService.class);
    static final Duration END_PASS_TIMEOUT = Duration.ofSeconds(2);

    /**
     * Pays these reservations (distinct, in the order asked; the first is the payment's {@code reservationId}) for the
     * user, as one payment.
     */
    public record PayCommand(List<Long> reservationIds, long userId, String idempotencyKey) {
        public PayCommand {
            reservationIds = List.copyOf(reservationIds);
        }

        public PayCommand(long reservationId, long userId, String idempotencyKey) {
            this(List.of(reservationId), userId, idempotencyKey);
        }
    }

    /**
     * reservationIds: every reservation paid, in the order asked; reservations: the same, now PAID, with what they are
     * for (a confirmation needs no further request). Stored responses from before issue 19 have neither: a replay then
     * shows reservationIds = [reservationId] and no reservations.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record PaymentResponse(long paymentId, long reservationId, List<Long> reservationIds, long amount, PaymentStatus status,
                                  long balance, Instant paidAt, List<Reservation> reservations) {
        public PaymentResponse {
            reservationIds = reservationIds == null ? List.of(reservationId) : List.copyOf(reservationIds);
            reservations = reservations == null ? null : List.copyOf(reservations);
        }
    }

    public record PayOutcome(PaymentResponse response, boolean replayed) {}

    private final DatabaseClient db;
    private final TransactionalOperator tx;
    private final ReservationService reservations;
    private final SeatInventory seats;
    private final IdempotencyKeys idempotencyKeys;
    private final WalletStore wallets;
    private final OutboxWriter outbox;
    private final QueueService queue;
    private final ObjectMapper json;
    private final Clock clock;
    private final MeterRegistry meters;

    public PaymentService(DatabaseClient db, ReactiveTransactionManager transactions, ReservationService reservations, SeatInventory seats,
                          IdempotencyKeys idempotencyKeys, WalletStore wallets, OutboxWriter outbox, QueueService queue, ObjectMapper json,
                          Clock clock, MeterRegistry meters) {
        this.db = db;
        this.tx = Transactions.readCommitted(transactions);
        this.reservations = reservations;
        this.seats = seats;
        this.idempotencyKeys = idempotencyKeys;
        this.wallets = wallets;
        this.outbox = outbox;
        this.queue = queue;
        this.json = json;
        this.clock = clock;
        this.meters = meters;
    }

    /**
     * Runs the payment to its end whatever the client does (SPEC 4.11): the chain is subscribed through a
     * CompletableFuture whose cancellation is suppressed, so a client that disconnects mid-payment cancels
     * only its wait for the answer, never the transaction (and with it the Idempotency-Key's completion).
     * Every step inside is bounded (transaction, pool acquire and Redis timeouts), so nothing runs forever.
     */
    public Mono<PayOutcome> pay(PaymentPass pass, PayCommand command) {
        return Mono.defer(() -> Mono.fromFuture(payNow(pass, command).toFuture(), true));
    }

    /** The caller (checked by the controller) pays its own reservation; the pass's user is the caller. */
    private Mono<PayOutcome> payNow(PaymentPass pass, PayCommand command) {
        String key = command.idempotencyKey();
        String hash = requestHash(command);
        if (pass instanceof ReplayPass) {
            // A retry after this payment ended the token: only a stored response for the same request may come back.
            if (key == null) {
                return Mono.error(new ApiException(ErrorCode.TOKEN_EXPIRED, "The queue token has ended"));
            }
            return idempotencyKeys.storedResponse(command.userId(), key, hash)
                    .map(body -> count(new PayOutcome(json.readValue(body, PaymentResponse.class), true)))
                    .switchIfEmpty(Mono.error(() -> new ApiException(ErrorCode.TOKEN_EXPIRED,
                            "The queue token has ended and no completed payment with this Idempotency-Key and body is stored")));
        }
        ActivePass active = (ActivePass) pass;
        Mono<PayOutcome> outcome = reservations.findPayable(command.reservationIds()).collectList()
                .flatMap(found -> payOnce(payable(found, command, active), key, hash));
        return outcome
                .flatMap(o -> o.replayed() ? Mono.just(o) : endPass(active).thenReturn(o))
                .map(this::count)
                .doOnError(ApiException.class, e -> meters.counter("booking.payments", "outcome", e.code().name()).increment());
    }

    /** What is paid, once every check that needs no lock has passed (nothing is written before these). */
    private record Purchase(List<Reservation> reservations, long concertDateId, Instant startsAt, long amount) {
        Reservation first() {
            return reservations.get(0);
        }

        List<Long> ids() {
            return reservations.stream().map(Reservation::reservationId).toList();
        }
    }

    /**
     * The checks on the reservations as stored, in the order asked: all exist (404), all are the caller's (403), all
     * of one concert date (400) of the pass's concert (403), and no more than the concert's ticket limit (400).
     * Whether each is still a live hold is decided by the payment's own conditional UPDATE.
     */
    private static Purchase payable(List<ReservationService.Payable> found, PayCommand command, ActivePass pass) {
        Map<Long, ReservationService.Payable> byId = new HashMap<>();
        found.forEach(p -> byId.put(p.reservation().reservationId(), p));
        List<ReservationService.Payable> ordered = new ArrayList<>();
        for (long id : command.reservationIds()) {
            ReservationService.Payable p = byId.get(id);
            if (p == null) {
                throw ApiException.of(ErrorCode.RESERVATION_NOT_FOUND, "Reservation %d does not exist", id);
            }
            ordered.add(p);
        }
        for (ReservationService.Payable p : ordered) {
            if (p.reservation().userId() != command.userId()) {
                throw ApiException.of(ErrorCode.FORBIDDEN, "Reservation %d belongs to another user", p.reservation().reservationId());
            }
        }
        ReservationService.Payable first = ordered.get(0);
        long dateId = first.reservation().concertDateId();
        if (ordered.stream().anyMatch(p -> p.reservation().concertDateId() != dateId)) {
            throw ApiException.validation("reservationIds must all be of one concert date");
        }
        pass.requireConcert(first.reservation().concertId());
        if (ordered.size() > first.ticketLimit()) {
            throw ApiException.validation("reservationIds: at most " + first.ticketLimit() + " reservations of this concert in one payment");
        }
        List<Reservation> list = ordered.stream().map(ReservationService.Payable::reservation).toList();
        long amount = list.stream().mapToLong(Reservation::price).sum();
        return new Purchase(list, dateId, first.startsAt(), amount);
    }

    private PayOutcome count(PayOutcome o) {
        meters.counter("booking.payments", "outcome", o.replayed() ? "replayed" : "completed").increment();
        return o;
    }

    /**
     * One transaction: the closed-date check, the payment, and with a key its stored response as the last statement
     * ({@link IdempotencyKeys#record}), so the key commits or rolls back with the payment and costs one statement. A
     * concurrent duplicate waits for this transaction's lock on the reservation, is refused (no longer HELD) and then
     * replays the committed response; a refused request with a key first asks the key's record why
     * ({@link IdempotencyKeys#afterRefusal}: replay, 422 for another request's key, 409 for a claim in flight).
     */
    private Mono<PayOutcome> payOnce(Purchase purchase, String key, String hash) {
        long userId = purchase.first().userId();
        Mono<PayOutcome> paid = Mono.defer(() -> {
                    Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
                    // SPEC 4.10: no payment for a date that has started (starts_at never changes once sold).
                    if (!purchase.startsAt().isAfter(now)) {
                        return Mono.error(ApiException.of(ErrorCode.CONCERT_DATE_CLOSED, "Concert date %d has already started",
                                purchase.concertDateId()));
                    }
                    return payTx(purchase, now, key, hash).map(p -> new PayOutcome(p, false)).as(tx::transactional);
                })
                .retryWhen(DeadlockRetry.backoff());
        // A stored response replays even after the show started; only new work is refused then.
        return key == null ? paid : paid.onErrorResume(ApiException.class, refusal -> idempotencyKeys
                .afterRefusal(userId, key, hash, refusal)
                .map(body -> new PayOutcome(json.readValue(body, PaymentResponse.class), true)));
    }

    /**
     * All the reservations or none: every step checks that it changed exactly one row per reservation, and any
     * shortfall fails the transaction, which rolls back what the earlier steps wrote. Rows are locked in primary-key
     * order whatever order the ids came in (the IN lists are sorted), so two payments of overlapping sets queue
     * behind each other instead of deadlocking.
     */
    private Mono<PaymentResponse> payTx(Purchase purchase, Instant now, String key, String hash) {
        Reservation first = purchase.first();
        List<Long> ids = purchase.ids().stream().sorted().toList();
        int n = ids.size();
        // 1. The reservations: a conditional UPDATE both checks (HELD, not expired) and locks them, so a second
        //    payment or a cancel waits here and then finds them no longer HELD. Through the primary key only: with an
        //    IN list the optimizer sometimes chose ix_reservation_status_expiry instead, locking the index entry before
        //    the row, the reverse of a payment going by the key, and 300 racing payments of one set deadlocked
        //    (MultiPaymentTest, InnoDB's deadlock report).
        Mono<Long> markPaid = db.sql("UPDATE reservation FORCE INDEX (PRIMARY) SET status = 'PAID', paid_at = :now WHERE id IN (:ids) AND "
                        + ReservationStatus.LIVE_HOLD)
                .bind("now", TimeConfig.toDb(now)).bind("ids", ids)
                .fetch().rowsUpdated();
        // 2. The seats, only while each is still its reservation's hold (and their count rows with them).
        Mono<Boolean> sell = seats.sellAll(purchase.concertDateId(), purchase.reservations());
        // The payment row, returning its id and the balance just debited in the same round trip (MariaDB's
        // INSERT ... RETURNING; the subquery reads this transaction's own update of the users row).
        Mono<reactor.util.function.Tuple2<Long, Long>> insertPayment = db.sql(
                        "INSERT INTO payment (reservation_id, user_id, amount, status, created_at) VALUES (:id, :userId, :amount, 'COMPLETED', :now) "
                                + "RETURNING id, (SELECT balance FROM users WHERE id = :userId) AS balance")
                .bind("id", first.reservationId()).bind("userId", first.userId()).bind("amount", purchase.amount()).bind("now", TimeConfig.toDb(now))
                .map(row -> reactor.util.function.Tuples.of(row.get("id", Long.class), row.get("balance", Long.class))).one();
        return markPaid
                .flatMap(paid -> paid == n ? Mono.just(paid) : notPayable(ids, now))
                .then(sell)
                .flatMap(sold -> sold ? Mono.just(sold) : Mono.error(ApiException.of(ErrorCode.HOLD_EXPIRED,
                        n == 1 ? "The hold on seat %d has been released" : "The hold on a seat of this payment (seat %d or another) has been released",
                        first.seatNumber())))
                // 3. The debit: the WHERE clause refuses to go below zero; 0 rows rolls everything back.
                .then(wallets.debit(first.userId(), purchase.amount()))
                .flatMap(debited -> debited == 1 ? Mono.just(debited) : Mono.error(ApiException.of(ErrorCode.INSUFFICIENT_BALANCE,
                        "The balance is less than the price %d", purchase.amount())))
                .then(insertPayment)
                .flatMap(t -> {
                    long paymentId = t.getT1();
                    PaymentResponse response = new PaymentResponse(paymentId, first.reservationId(), purchase.ids(), purchase.amount(),
                            PaymentStatus.COMPLETED, t.getT2(), now, purchase.reservations().stream().map(r -> r.paid(now)).toList());
                    // A payment of several names itself on each reservation (a refund of one seat finds it there);
                    // a payment of one is found by payment.reservation_id, with no further write.
                    Mono<Long> link = n == 1 ? Mono.empty()
                            : db.sql("UPDATE reservation SET payment_id = :paymentId WHERE id IN (:ids)")
                                    .bind("paymentId", paymentId).bind("ids", ids).fetch().rowsUpdated();
                    Mono<String> event = outbox.append(EventType.PAYMENT_COMPLETED, purchase.concertDateId(), eventPayload(purchase, paymentId));
                    Mono<Void> remember = key == null ? Mono.empty()
                            : idempotencyKeys.record(first.userId(), key, hash, 200, json.writeValueAsString(response));
                    return link.then(event).then(remember).thenReturn(response);
                });
    }

    /**
     * One event per payment (SPEC 4.6): the first reservation's payload (as for a payment of one) with the whole
     * amount, plus every reservation and seat number paid.
     */
    private static Map<String, Object> eventPayload(Purchase purchase, long paymentId) {
        Map<String, Object> payload = purchase.first().eventPayload(paymentId);
        payload.put("amount", purchase.amount());
        payload.put("reservationIds", purchase.ids());
        payload.put("seatNumbers", purchase.reservations().stream().map(Reservation::seatNumber).toList());
        return payload;
    }

    /**
     * Why not every reservation could be marked PAID (read inside the transaction: rows this payment just marked show
     * PAID with this very paid_at, and roll back with the error). An expired hold wins, as it is the likeliest cause.
     */
    private <T> Mono<T> notPayable(List<Long> ids, Instant now) {
        record Row(long id, String stored, ReservationStatus shown, LocalDateTime paidAt) {}
        LocalDateTime ours = TimeConfig.toDb(now);
        return db.sql("SELECT id, status, held_until, paid_at FROM reservation WHERE id IN (:ids) ORDER BY id").bind("ids", ids)
                .map(row -> new Row(row.get("id", Long.class), row.get("status", String.class),
                        ReservationStatus.shown(row.get("status", String.class), TimeConfig.fromDb(row.get("held_until", LocalDateTime.class)), now),
                        row.get("paid_at", LocalDateTime.class)))
                .all().collectList()
                .flatMap(rows -> {
                    var blocking = rows.stream()
                            .filter(r -> !(r.shown() == ReservationStatus.PAID && ours.equals(r.paidAt())))
                            .sorted(java.util.Comparator.comparing(r -> r.shown() == ReservationStatus.EXPIRED ? 0 : 1))
                            .findFirst();
                    ApiException error = blocking
                            .map(r -> r.shown() == ReservationStatus.EXPIRED
                                    ? ApiException.of(ErrorCode.HOLD_EXPIRED, "The hold of reservation %d has expired", r.id())
                                    : ApiException.of(ErrorCode.RESERVATION_NOT_PAYABLE, "Reservation %d is %s", r.id(), r.shown()))
                            .orElseGet(() -> ApiException.of(ErrorCode.RESERVATION_NOT_PAYABLE, "Reservations %s are no longer payable", ids));
                    return Mono.error(error);
                });
    }

    private Mono<Void> endPass(ActivePass pass) {
        // After commit: the payment stands whatever happens here; a token left ACTIVE just times out.
        return Mono.defer(() -> queue.endPass(pass))
                .timeout(END_PASS_TIMEOUT)
                .onErrorResume(e -> {
                    log.warn("ending queue pass {} after payment failed: {}", pass.entryId(), e.toString());
                    return Mono.empty();
                });
    }

    // ---------------------------------------------------------------- idempotency

    /**
     * The request's identity for the Idempotency-Key: the set of reservations (order does not matter) and the user. A
     * payment of one hashes as before issue 19, whether asked as reservationId or as a one-element reservationIds.
     */
    static String requestHash(PayCommand command) {
        List<Long> ids = command.reservationIds().stream().sorted().toList();
        String reservations = ids.size() == 1 ? "reservationId=" + ids.get(0)
                : "reservationIds=" + ids.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(","));
        return IdempotencyKeys.hash("POST /api/v1/payments/pay\n" + reservations + "\nuserId=" + command.userId());
    }
}
