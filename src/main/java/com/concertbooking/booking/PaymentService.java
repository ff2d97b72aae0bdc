package com.concertbooking.booking;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;

import com.concertbooking.events.OutboxWriter;
import com.concertbooking.events.OutboxWriter.EventType;
import com.concertbooking.queue.QueueService;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.DeadlockRetry;
import com.concertbooking.support.Transactions;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.QueuePass;
import com.concertbooking.support.TimeConfig;
import com.concertbooking.wallet.WalletStore;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DuplicateKeyException;
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
 * <p>Idempotency-Key (SPEC 4.4): the key is claimed by an INSERT of its own (autocommit) before the
 * payment transaction, so a concurrent duplicate sees IN_PROGRESS at once instead of waiting; the
 * response is stored by the payment transaction itself, so "paid" and "replayable" commit together.
 * A failed attempt releases its claim so the client may retry with the same key (e.g. after a top-up).
 */
@Service
public class PaymentService {

    private static final Logger log = LoggerFactory.getLogger(PaymentService.class);
    static final Duration KEY_LIFETIME = Duration.ofHours(24);
    /** A claim older than this never finished (the process died before its short transaction); it may be taken over. */
    static final Duration STALE_CLAIM = Duration.ofSeconds(30);
    static final Duration END_PASS_TIMEOUT = Duration.ofSeconds(2);

    public record PayCommand(long reservationId, long userId, String idempotencyKey) {}

    public record PaymentResponse(long paymentId, long reservationId, long amount, String status, long balance, Instant paidAt) {}

    public record PayOutcome(PaymentResponse response, boolean replayed) {}

    private sealed interface Claim permits Claimed, Replay {}

    private record Claimed(long id) implements Claim {}

    private record Replay(PaymentResponse response) implements Claim {}

    private final DatabaseClient db;
    private final TransactionalOperator tx;
    private final ReservationService reservations;
    private final WalletStore wallets;
    private final OutboxWriter outbox;
    private final QueueService queue;
    private final ObjectMapper json;
    private final Clock clock;
    private final MeterRegistry meters;

    public PaymentService(DatabaseClient db, ReactiveTransactionManager transactions, ReservationService reservations, WalletStore wallets,
                          OutboxWriter outbox, QueueService queue, ObjectMapper json, Clock clock, MeterRegistry meters) {
        this.db = db;
        this.tx = Transactions.readCommitted(transactions);
        this.reservations = reservations;
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
     * only its wait for the answer, never the transaction, the Idempotency-Key's completion or its release.
     * Every step inside is bounded (transaction, pool acquire and Redis timeouts), so nothing runs forever.
     */
    public Mono<PayOutcome> pay(QueuePass pass, PayCommand command) {
        return Mono.defer(() -> Mono.fromFuture(payNow(pass, command).toFuture(), true));
    }

    private Mono<PayOutcome> payNow(QueuePass pass, PayCommand command) {
        pass.requireUser(command.userId());
        String key = command.idempotencyKey();
        String hash = requestHash(command);
        if (pass.status() != QueuePass.Status.ACTIVE) {
            if (pass.status() == QueuePass.Status.ENDED && key != null) {
                // A retry after this payment ended the token: only a stored response for the same request may come back.
                return storedResponse(command.userId(), key, hash)
                        .map(r -> count(new PayOutcome(r, true)))
                        .switchIfEmpty(Mono.error(() -> new ApiException(ErrorCode.TOKEN_EXPIRED,
                                "The queue token has ended and no completed payment with this Idempotency-Key and body is stored")));
            }
            return Mono.error(pass.status() == QueuePass.Status.WAITING
                    ? new ApiException(ErrorCode.TOKEN_NOT_ACTIVE, "The queue token is still waiting")
                    : new ApiException(ErrorCode.TOKEN_EXPIRED, "The queue token has ended"));
        }
        Mono<PayOutcome> outcome = reservations.findWithStart(command.reservationId())
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.RESERVATION_NOT_FOUND, "Reservation %d does not exist",
                        command.reservationId())))
                .flatMap(found -> {
                    Reservation r = found.getT1();
                    Instant startsAt = found.getT2();
                    if (r.userId() != command.userId()) {
                        return Mono.error(ApiException.of(ErrorCode.FORBIDDEN, "Reservation %d belongs to another user", r.reservationId()));
                    }
                    pass.requireConcert(r.concertId());
                    if (key == null) {
                        return payOnce(r, startsAt, null).map(p -> new PayOutcome(p, false));
                    }
                    // A stored response replays even after the show started; only new work is refused then.
                    return claim(command.userId(), key, hash).flatMap(claim -> claim instanceof Replay replay
                            ? Mono.just(new PayOutcome(replay.response(), true))
                            : payOnce(r, startsAt, ((Claimed) claim).id())
                                    .onErrorResume(e -> release(((Claimed) claim).id()).then(Mono.error(e)))
                                    .map(p -> new PayOutcome(p, false)));
                });
        return outcome
                .flatMap(o -> o.replayed() ? Mono.just(o) : endPass(pass).thenReturn(o))
                .map(this::count)
                .doOnError(ApiException.class, e -> meters.counter("booking.payments", "outcome", e.code().name()).increment());
    }

    private PayOutcome count(PayOutcome o) {
        meters.counter("booking.payments", "outcome", o.replayed() ? "replayed" : "completed").increment();
        return o;
    }

    private Mono<PaymentResponse> payOnce(Reservation r, Instant startsAt, Long claimId) {
        return Mono.defer(() -> {
                    Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
                    // SPEC 4.10: no payment for a date that has started (starts_at never changes once sold).
                    if (!startsAt.isAfter(now)) {
                        return Mono.error(ApiException.of(ErrorCode.CONCERT_DATE_CLOSED, "Concert date %d has already started",
                                r.concertDateId()));
                    }
                    return payTx(r, now, claimId).as(tx::transactional);
                })
                .retryWhen(DeadlockRetry.backoff());
    }

    private Mono<PaymentResponse> payTx(Reservation r, Instant now, Long claimId) {
        // 1. The reservation: a conditional UPDATE both checks (HELD, not expired) and locks it, so a
        //    second payment or a cancel waits here and then finds it no longer HELD.
        Mono<Long> markPaid = db.sql("UPDATE reservation SET status = 'PAID', paid_at = :now "
                        + "WHERE id = :id AND status = 'HELD' AND held_until > :now")
                .bind("now", TimeConfig.toDb(now)).bind("id", r.reservationId())
                .fetch().rowsUpdated();
        // 2. The seat, only while it is still this reservation's hold.
        Mono<Long> sell = db.sql("UPDATE seat SET status = 'SOLD', held_until = NULL, version = version + 1 "
                        + "WHERE id = :seatId AND reservation_id = :id AND status = 'HELD'")
                .bind("seatId", r.seatId()).bind("id", r.reservationId())
                .fetch().rowsUpdated();
        Mono<Long> insertPayment = db.sql("INSERT INTO payment (reservation_id, user_id, amount, status, created_at) "
                        + "VALUES (:id, :userId, :amount, 'COMPLETED', :now)")
                .bind("id", r.reservationId()).bind("userId", r.userId()).bind("amount", r.price()).bind("now", TimeConfig.toDb(now))
                .filter(s -> s.returnGeneratedValues("id"))
                .map(row -> row.get("id", Long.class)).one();
        return markPaid
                .flatMap(n -> n == 1 ? Mono.just(n) : notPayable(r.reservationId(), now))
                .then(sell)
                .flatMap(n -> n == 1 ? Mono.just(n) : Mono.error(ApiException.of(ErrorCode.HOLD_EXPIRED,
                        "The hold on seat %d has been released", r.seatNumber())))
                // 3. The debit: the WHERE clause refuses to go below zero; 0 rows rolls everything back.
                .then(wallets.debit(r.userId(), r.price()))
                .flatMap(n -> n == 1 ? Mono.just(n) : Mono.error(ApiException.of(ErrorCode.INSUFFICIENT_BALANCE,
                        "The balance is less than the price %d", r.price())))
                .then(insertPayment)
                .zipWhen(paymentId -> wallets.balance(r.userId()))
                .flatMap(t -> {
                    long paymentId = t.getT1();
                    PaymentResponse response = new PaymentResponse(paymentId, r.reservationId(), r.price(), "COMPLETED", t.getT2(), now);
                    Mono<String> event = outbox.append(EventType.PAYMENT_COMPLETED, r.concertDateId(), r.eventPayload(paymentId));
                    Mono<Long> remember = claimId == null ? Mono.just(0L)
                            : db.sql("UPDATE idempotency_key SET status = 'COMPLETED', response_status = 200, response_body = :body "
                                            + "WHERE id = :id AND status = 'IN_PROGRESS'")
                                    .bind("body", json.writeValueAsString(response)).bind("id", claimId)
                                    .fetch().rowsUpdated();
                    return event.then(remember).thenReturn(response);
                });
    }

    /** Why the reservation could not be marked PAID. */
    private <T> Mono<T> notPayable(long reservationId, Instant now) {
        return db.sql("SELECT status, held_until FROM reservation WHERE id = :id").bind("id", reservationId)
                .map(row -> {
                    String status = row.get("status", String.class);
                    boolean expired = "EXPIRED".equals(status)
                            || ("HELD".equals(status) && !TimeConfig.fromDb(row.get("held_until", LocalDateTime.class)).isAfter(now));
                    return expired ? ApiException.of(ErrorCode.HOLD_EXPIRED, "The hold of reservation %d has expired", reservationId)
                            : ApiException.of(ErrorCode.RESERVATION_NOT_PAYABLE, "Reservation %d is %s", reservationId, status);
                })
                .one()
                .flatMap(Mono::error);
    }

    private Mono<Void> endPass(QueuePass pass) {
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
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(
                    ("POST /api/v1/payments/pay\nreservationId=" + command.reservationId() + "\nuserId=" + command.userId())
                            .getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private record KeyRow(long id, String hash, String status, String body, LocalDateTime createdAt, Instant expiresAt) {}

    private Mono<KeyRow> keyRow(long userId, String key) {
        return db.sql("SELECT id, request_hash, status, response_body, created_at, expires_at FROM idempotency_key "
                        + "WHERE user_id = :userId AND idem_key = :key")
                .bind("userId", userId).bind("key", key)
                .map(r -> new KeyRow(r.get("id", Long.class), r.get("request_hash", String.class), r.get("status", String.class),
                        r.get("response_body", String.class), r.get("created_at", LocalDateTime.class),
                        TimeConfig.fromDb(r.get("expires_at", LocalDateTime.class))))
                .one();
    }

    /** The stored response of a completed request with this key and the same body, if any (within 24 h). */
    private Mono<PaymentResponse> storedResponse(long userId, String key, String hash) {
        Instant now = clock.instant();
        return keyRow(userId, key)
                .filter(k -> "COMPLETED".equals(k.status()) && k.hash().equals(hash) && k.expiresAt().isAfter(now))
                .map(k -> json.readValue(k.body(), PaymentResponse.class));
    }

    private Mono<Claim> claim(long userId, String key, String hash) {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
        return db.sql("INSERT INTO idempotency_key (user_id, idem_key, request_hash, status, created_at, expires_at) "
                        + "VALUES (:userId, :key, :hash, 'IN_PROGRESS', :now, :expires)")
                .bind("userId", userId).bind("key", key).bind("hash", hash)
                .bind("now", TimeConfig.toDb(now)).bind("expires", TimeConfig.toDb(now.plus(KEY_LIFETIME)))
                .filter(s -> s.returnGeneratedValues("id"))
                .map(r -> (Claim) new Claimed(r.get("id", Long.class))).one()
                .onErrorResume(DuplicateKeyException.class, e -> keyRow(userId, key)
                        .switchIfEmpty(Mono.error(() -> inProgress(key)))
                        .flatMap(existing -> existingClaim(existing, hash, now, key)));
    }

    private Mono<Claim> existingClaim(KeyRow existing, String hash, Instant now, String key) {
        boolean expired = !existing.expiresAt().isAfter(now);
        // A claim past its lease is taken over only by the same request: another body with this key stays a
        // conflict (422) whatever the age of the claim, or a retry could turn a key into a different payment.
        boolean abandoned = "IN_PROGRESS".equals(existing.status()) && existing.hash().equals(hash)
                && !TimeConfig.fromDb(existing.createdAt()).isAfter(now.minus(STALE_CLAIM));
        if (expired || abandoned) {
            // Take the record over only if nobody else did in between (compare-and-set on status and created_at).
            return db.sql("UPDATE idempotency_key SET request_hash = :hash, status = 'IN_PROGRESS', response_status = NULL, "
                            + "response_body = NULL, created_at = :now, expires_at = :expires "
                            + "WHERE id = :id AND status = :status AND created_at = :created")
                    .bind("hash", hash).bind("now", TimeConfig.toDb(now)).bind("expires", TimeConfig.toDb(now.plus(KEY_LIFETIME)))
                    .bind("id", existing.id()).bind("status", existing.status()).bind("created", existing.createdAt())
                    .fetch().rowsUpdated()
                    .flatMap(n -> n == 1 ? Mono.just((Claim) new Claimed(existing.id())) : Mono.error(inProgress(key)));
        }
        if (!existing.hash().equals(hash)) {
            return Mono.error(new ApiException(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "Idempotency-Key '" + key + "' was used for a different request"));
        }
        if ("COMPLETED".equals(existing.status())) {
            return Mono.just(new Replay(json.readValue(existing.body(), PaymentResponse.class)));
        }
        return Mono.error(inProgress(key));
    }

    private static ApiException inProgress(String key) {
        return new ApiException(ErrorCode.IDEMPOTENCY_IN_PROGRESS, "A request with Idempotency-Key '" + key + "' is still in progress");
    }

    private Mono<Void> release(long claimId) {
        return db.sql("DELETE FROM idempotency_key WHERE id = :id AND status = 'IN_PROGRESS'").bind("id", claimId)
                .fetch().rowsUpdated()
                .onErrorResume(e -> {
                    log.warn("releasing idempotency claim {} failed (it becomes reusable after {}): {}", claimId, STALE_CLAIM, e.toString());
                    return Mono.empty();
                })
                .then();
    }
}
