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

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.TimeConfig;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * The Idempotency-Key store (SPEC 4.4, 4.11; table {@code idempotency_key}, one row per user and key, 24 h).
 *
 * <p>A key is claimed by an INSERT as the first statement of the work's own transaction, and the response is
 * stored by that transaction ({@link #complete}): "done" and "replayable" commit together, and a failed or
 * abandoned attempt rolls its claim back with it, so no key is ever left IN_PROGRESS by this code (a
 * concurrent duplicate waits for the key's row lock for the length of one short transaction, then replays).
 * IN_PROGRESS rows written by earlier versions (a claim committed on its own) are still understood: such a
 * claim past its lease is taken over, but only by the same request.
 */
@Component
class IdempotencyKeys {

    enum Status { IN_PROGRESS, COMPLETED }

    sealed interface Claim permits Claimed, Replay {}

    /** This request owns the key: do the work and {@link #complete} in the same transaction. */
    record Claimed(long id) implements Claim {}

    /** The same request completed before: answer with its stored body. */
    record Replay(String body) implements Claim {}

    private record KeyRow(long id, String hash, Status status, String body, LocalDateTime createdAt, Instant expiresAt) {}

    static final Duration LIFETIME = Duration.ofHours(24);
    /** A claim older than this never finished (the process died before its short transaction). */
    static final Duration STALE_CLAIM = Duration.ofSeconds(30);

    private final DatabaseClient db;
    private final Clock clock;

    IdempotencyKeys(DatabaseClient db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** SHA-256 of the request's identity (method, path and the fields that matter), hex. */
    static String hash(String request) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(request.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Mono<Claim> claim(long userId, String key, String hash) {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
        return db.sql("INSERT INTO idempotency_key (user_id, idem_key, request_hash, status, created_at, expires_at) "
                        + "VALUES (:userId, :key, :hash, 'IN_PROGRESS', :now, :expires)")
                .bind("userId", userId).bind("key", key).bind("hash", hash)
                .bind("now", TimeConfig.toDb(now)).bind("expires", TimeConfig.toDb(now.plus(LIFETIME)))
                .filter(s -> s.returnGeneratedValues("id"))
                .map(r -> (Claim) new Claimed(r.get("id", Long.class))).one()
                .onErrorResume(DuplicateKeyException.class, e -> row(userId, key)
                        .switchIfEmpty(Mono.error(() -> inProgress(key)))
                        .flatMap(existing -> existing(existing, hash, now, key)));
    }

    /** The stored body of a completed request with this key and the same hash, if any (within its lifetime). */
    Mono<String> storedResponse(long userId, String key, String hash) {
        Instant now = clock.instant();
        return row(userId, key)
                .filter(k -> k.status() == Status.COMPLETED && k.hash().equals(hash) && k.expiresAt().isAfter(now))
                .map(KeyRow::body);
    }

    /** Stores the response; runs in the work's own transaction, so it commits or rolls back with the work. */
    Mono<Void> complete(long claimId, int status, String body) {
        return db.sql("UPDATE idempotency_key SET status = 'COMPLETED', response_status = :status, response_body = :body "
                        + "WHERE id = :id AND status = 'IN_PROGRESS'")
                .bind("status", status).bind("body", body).bind("id", claimId)
                .fetch().rowsUpdated().then();
    }

    /** Drops records past their lifetime, one bounded batch (ix_idempotency_expiry). */
    Mono<Long> purge(int batch) {
        return db.sql("DELETE FROM idempotency_key WHERE expires_at <= :now LIMIT :batch")
                .bind("now", TimeConfig.toDb(clock.instant())).bind("batch", batch)
                .fetch().rowsUpdated();
    }

    private Mono<KeyRow> row(long userId, String key) {
        return db.sql("SELECT id, request_hash, status, response_body, created_at, expires_at FROM idempotency_key "
                        + "WHERE user_id = :userId AND idem_key = :key")
                .bind("userId", userId).bind("key", key)
                .map(r -> new KeyRow(r.get("id", Long.class), r.get("request_hash", String.class), Status.valueOf(r.get("status", String.class)),
                        r.get("response_body", String.class), r.get("created_at", LocalDateTime.class),
                        TimeConfig.fromDb(r.get("expires_at", LocalDateTime.class))))
                .one();
    }

    private Mono<Claim> existing(KeyRow existing, String hash, Instant now, String key) {
        boolean expired = !existing.expiresAt().isAfter(now);
        // A claim past its lease is taken over only by the same request: another body with this key stays a
        // conflict (422) whatever the age of the claim, or a retry could turn a key into a different payment.
        boolean abandoned = existing.status() == Status.IN_PROGRESS && existing.hash().equals(hash)
                && !TimeConfig.fromDb(existing.createdAt()).isAfter(now.minus(STALE_CLAIM));
        if (expired || abandoned) {
            // Take the record over only if nobody else did in between (compare-and-set on status and created_at).
            return db.sql("UPDATE idempotency_key SET request_hash = :hash, status = 'IN_PROGRESS', response_status = NULL, "
                            + "response_body = NULL, created_at = :now, expires_at = :expires "
                            + "WHERE id = :id AND status = :status AND created_at = :created")
                    .bind("hash", hash).bind("now", TimeConfig.toDb(now)).bind("expires", TimeConfig.toDb(now.plus(LIFETIME)))
                    .bind("id", existing.id()).bind("status", existing.status().name()).bind("created", existing.createdAt())
                    .fetch().rowsUpdated()
                    .flatMap(n -> n == 1 ? Mono.just((Claim) new Claimed(existing.id())) : Mono.error(inProgress(key)));
        }
        if (!existing.hash().equals(hash)) {
            return Mono.error(new ApiException(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "Idempotency-Key '" + key + "' was used for a different request"));
        }
        if (existing.status() == Status.COMPLETED) {
            return Mono.just(new Replay(existing.body()));
        }
        return Mono.error(inProgress(key));
    }

    private static ApiException inProgress(String key) {
        return new ApiException(ErrorCode.IDEMPOTENCY_IN_PROGRESS, "A request with Idempotency-Key '" + key + "' is still in progress");
    }
}
