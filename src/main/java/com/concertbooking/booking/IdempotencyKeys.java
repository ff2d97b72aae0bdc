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
 * <p>A key is written, with its response, by the last statement of the work's own transaction ({@link #record}):
 * "done" and "replayable" commit together, a failed or abandoned attempt leaves nothing behind, and no key is ever
 * IN_PROGRESS by this code. A concurrent duplicate of the same request waits for the work's own lock (the
 * reservation row), is refused by it, and then replays the committed response ({@link #afterRefusal}). IN_PROGRESS
 * rows written by earlier versions (a claim committed on its own) are still understood: 409 while fresh; past its
 * lease such a claim is taken over, but only by the same request.
 */
@Component
class IdempotencyKeys {

    enum Status { IN_PROGRESS, COMPLETED }

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

    /**
     * Stores the completed response under the key: the last statement of the work's own transaction, so "done" and
     * "replayable" commit together, and a key costs a payment one statement. A concurrent duplicate of the same request
     * is stopped before this by the work's own lock (the reservation row) and then replays ({@link #afterRefusal}); a
     * duplicate key here means the key is taken: by an expired record or an abandoned claim of the same request (taken
     * over), or by another request (422, and the caller's transaction rolls its work back).
     */
    Mono<Void> record(long userId, String key, String hash, int status, String body) {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
        return db.sql("INSERT INTO idempotency_key (user_id, idem_key, request_hash, status, response_status, response_body, created_at, expires_at) "
                        + "VALUES (:userId, :key, :hash, 'COMPLETED', :status, :body, :now, :expires)")
                .bind("userId", userId).bind("key", key).bind("hash", hash).bind("status", status).bind("body", body)
                .bind("now", TimeConfig.toDb(now)).bind("expires", TimeConfig.toDb(now.plus(LIFETIME)))
                .fetch().rowsUpdated().then()
                .onErrorResume(DuplicateKeyException.class, e -> row(userId, key)
                        .switchIfEmpty(Mono.error(() -> inProgress(key)))
                        .flatMap(existing -> takeOver(existing, hash, now, key, status, body)));
    }

    /**
     * Why a request with this key was refused, given the key's record: the same request completed before (a duplicate
     * that waited for it, or a retry after the show started): its stored body to replay; the key names another request:
     * 422; a fresh claim of an earlier version still running: 409; else the refusal itself.
     */
    Mono<String> afterRefusal(long userId, String key, String hash, Throwable refusal) {
        Instant now = clock.instant();
        return row(userId, key)
                .filter(k -> k.expiresAt().isAfter(now))
                .switchIfEmpty(Mono.error(refusal))
                .flatMap(existing -> {
                    if (!existing.hash().equals(hash)) {
                        return Mono.error(reused(key));
                    }
                    if (existing.status() == Status.COMPLETED) {
                        return Mono.just(existing.body());
                    }
                    return Mono.error(abandoned(existing, now) ? refusal : inProgress(key));
                });
    }

    /** The stored body of a completed request with this key and the same hash, if any (within its lifetime). */
    Mono<String> storedResponse(long userId, String key, String hash) {
        Instant now = clock.instant();
        return row(userId, key)
                .filter(k -> k.status() == Status.COMPLETED && k.hash().equals(hash) && k.expiresAt().isAfter(now))
                .map(KeyRow::body);
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

    /** A claim of an earlier version (IN_PROGRESS committed on its own) past its lease: that process died. */
    private static boolean abandoned(KeyRow existing, Instant now) {
        return existing.status() == Status.IN_PROGRESS && !TimeConfig.fromDb(existing.createdAt()).isAfter(now.minus(STALE_CLAIM));
    }

    private Mono<Void> takeOver(KeyRow existing, String hash, Instant now, String key, int status, String body) {
        boolean expired = !existing.expiresAt().isAfter(now);
        // A claim past its lease is taken over only by the same request: another body with this key stays a
        // conflict (422) whatever the age of the claim, or a retry could turn a key into a different payment.
        if (expired || (abandoned(existing, now) && existing.hash().equals(hash))) {
            // Take the record over only if nobody else did in between (compare-and-set on status and created_at).
            return db.sql("UPDATE idempotency_key SET request_hash = :hash, status = 'COMPLETED', response_status = :responseStatus, "
                            + "response_body = :body, created_at = :now, expires_at = :expires "
                            + "WHERE id = :id AND status = :status AND created_at = :created")
                    .bind("hash", hash).bind("responseStatus", status).bind("body", body)
                    .bind("now", TimeConfig.toDb(now)).bind("expires", TimeConfig.toDb(now.plus(LIFETIME)))
                    .bind("id", existing.id()).bind("status", existing.status().name()).bind("created", existing.createdAt())
                    .fetch().rowsUpdated()
                    .flatMap(n -> n == 1 ? Mono.<Void>empty() : Mono.error(inProgress(key)));
        }
        // Another request's key (422); or the same request completed or still claimed elsewhere (409, and the caller's
        // afterRefusal then replays a completed one).
        return Mono.error(existing.hash().equals(hash) ? inProgress(key) : reused(key));
    }

    private static ApiException reused(String key) {
        return new ApiException(ErrorCode.IDEMPOTENCY_KEY_REUSED, "Idempotency-Key '" + key + "' was used for a different request");
    }

    private static ApiException inProgress(String key) {
        return new ApiException(ErrorCode.IDEMPOTENCY_IN_PROGRESS, "A request with Idempotency-Key '" + key + "' is still in progress");
    }
}
