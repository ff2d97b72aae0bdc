package com.concertbooking.booking;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;

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
 * Payment of a held reservation: one short local transaction (reservation PAID, seat SOLD, balance
 * debited, payment row, outbox row, and the idempotency record's stored response), with nothing remote
 * inside it. The queue token is ended only after commit.
 *
 * <p>Idempotency-Key (SPEC 4.4): {@link IdempotencyKeys} claims the key as the payment transaction's first
 * statement and the same transaction stores the response, so "paid" and "replayable" commit together and a
 * failed attempt leaves the key free for a retry (e.g. after a top-up).
 */
@Service
class PaymentService {

    private static final Logger log = LoggerFactory.getLogger(PaymentService.class);
    static final Duration END_PASS_TIMEOUT = Duration.ofSeconds(2);

    public record PayCommand(long reservationId, long userId, String idempotencyKey) {}

    public record PaymentResponse(long paymentId, long reservationId, long amount, PaymentStatus status, long balance, Instant paidAt) {}

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
        Mono<PayOutcome> outcome = reservations.findWithStart(command.reservationId())
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.RESERVATION_NOT_FOUND, "Reservation %d does not exist",
                        command.reservationId())))
                .flatMap(found -> {
                    Reservation r = found.getT1();
                    Instant startsAt = found.getT2();
                    if (r.userId() != command.userId()) {
                        return Mono.error(ApiException.of(ErrorCode.FORBIDDEN, "Reservation %d belongs to another user", r.reservationId()));
                    }
                    active.requireConcert(r.concertId());
                    return payOnce(r, startsAt, key, hash);
                });
        return outcome
                .flatMap(o -> o.replayed() ? Mono.just(o) : endPass(active).thenReturn(o))
                .map(this::count)
                .doOnError(ApiException.class, e -> meters.counter("booking.payments", "outcome", e.code().name()).increment());
    }

    private PayOutcome count(PayOutcome o) {
        meters.counter("booking.payments", "outcome", o.replayed() ? "replayed" : "completed").increment();
        return o;
    }

    /**
     * One transaction: the Idempotency-Key claim (when there is a key), the closed-date check, the payment. The
     * claim is the transaction's first statement, so it commits or rolls back with the payment: a failure leaves
     * no claim behind to release, and a payment costs one commit (not a separate autocommit for the claim). A
     * concurrent duplicate's INSERT of the same key waits for this transaction's row lock on the key, then finds
     * the committed COMPLETED record and replays it (or, after a rollback, claims the key itself).
     */
    private Mono<PayOutcome> payOnce(Reservation r, Instant startsAt, String key, String hash) {
        return Mono.defer(() -> {
                    Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
                    Mono<IdempotencyKeys.Claim> claim = key == null ? Mono.just(new IdempotencyKeys.Claimed(0))
                            : idempotencyKeys.claim(r.userId(), key, hash);
                    return claim.flatMap(c -> {
                        // A stored response replays even after the show started; only new work is refused then.
                        if (c instanceof IdempotencyKeys.Replay replay) {
                            return Mono.just(new PayOutcome(json.readValue(replay.body(), PaymentResponse.class), true));
                        }
                        // SPEC 4.10: no payment for a date that has started (starts_at never changes once sold).
                        if (!startsAt.isAfter(now)) {
                            return Mono.error(ApiException.of(ErrorCode.CONCERT_DATE_CLOSED, "Concert date %d has already started",
                                    r.concertDateId()));
                        }
                        Long claimId = key == null ? null : ((IdempotencyKeys.Claimed) c).id();
                        return payTx(r, now, claimId).map(p -> new PayOutcome(p, false));
                    }).as(tx::transactional);
                })
                .retryWhen(DeadlockRetry.backoff());
    }

    private Mono<PaymentResponse> payTx(Reservation r, Instant now, Long claimId) {
        // 1. The reservation: a conditional UPDATE both checks (HELD, not expired) and locks it, so a
        //    second payment or a cancel waits here and then finds it no longer HELD.
        Mono<Long> markPaid = db.sql("UPDATE reservation SET status = 'PAID', paid_at = :now WHERE id = :id AND "
                        + ReservationStatus.LIVE_HOLD)
                .bind("now", TimeConfig.toDb(now)).bind("id", r.reservationId())
                .fetch().rowsUpdated();
        // 2. The seat, only while it is still this reservation's hold.
        Mono<Boolean> sell = seats.sell(r.concertDateId(), r.seatNumber(), r.seatId(), r.reservationId());
        // The payment row, returning its id and the balance just debited in the same round trip (MariaDB's
        // INSERT ... RETURNING; the subquery reads this transaction's own update of the users row).
        Mono<reactor.util.function.Tuple2<Long, Long>> insertPayment = db.sql(
                        "INSERT INTO payment (reservation_id, user_id, amount, status, created_at) VALUES (:id, :userId, :amount, 'COMPLETED', :now) "
                                + "RETURNING id, (SELECT balance FROM users WHERE id = :userId) AS balance")
                .bind("id", r.reservationId()).bind("userId", r.userId()).bind("amount", r.price()).bind("now", TimeConfig.toDb(now))
                .map(row -> reactor.util.function.Tuples.of(row.get("id", Long.class), row.get("balance", Long.class))).one();
        return markPaid
                .flatMap(n -> n == 1 ? Mono.just(n) : notPayable(r.reservationId(), now))
                .then(sell)
                .flatMap(sold -> sold ? Mono.just(sold) : Mono.error(ApiException.of(ErrorCode.HOLD_EXPIRED,
                        "The hold on seat %d has been released", r.seatNumber())))
                // 3. The debit: the WHERE clause refuses to go below zero; 0 rows rolls everything back.
                .then(wallets.debit(r.userId(), r.price()))
                .flatMap(n -> n == 1 ? Mono.just(n) : Mono.error(ApiException.of(ErrorCode.INSUFFICIENT_BALANCE,
                        "The balance is less than the price %d", r.price())))
                .then(insertPayment)
                .flatMap(t -> {
                    long paymentId = t.getT1();
                    PaymentResponse response = new PaymentResponse(paymentId, r.reservationId(), r.price(), PaymentStatus.COMPLETED, t.getT2(), now);
                    Mono<String> event = outbox.append(EventType.PAYMENT_COMPLETED, r.concertDateId(), r.eventPayload(paymentId));
                    Mono<Void> remember = claimId == null ? Mono.empty()
                            : idempotencyKeys.complete(claimId, 200, json.writeValueAsString(response));
                    return event.then(remember).thenReturn(response);
                });
    }

    /** Why the reservation could not be marked PAID. */
    private <T> Mono<T> notPayable(long reservationId, Instant now) {
        return db.sql("SELECT status, held_until FROM reservation WHERE id = :id").bind("id", reservationId)
                .map(row -> {
                    ReservationStatus status = ReservationStatus.shown(row.get("status", String.class),
                            TimeConfig.fromDb(row.get("held_until", LocalDateTime.class)), now);
                    return status == ReservationStatus.EXPIRED ? ApiException.of(ErrorCode.HOLD_EXPIRED, "The hold of reservation %d has expired", reservationId)
                            : ApiException.of(ErrorCode.RESERVATION_NOT_PAYABLE, "Reservation %d is %s", reservationId, status);
                })
                .one()
                .flatMap(Mono::error);
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

    static String requestHash(PayCommand command) {
        return IdempotencyKeys.hash("POST /api/v1/payments/pay\nreservationId=" + command.reservationId() + "\nuserId=" + command.userId());
    }
}
