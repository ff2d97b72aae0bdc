package com.concertbooking.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HexFormat;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.TimeConfig;
import com.concertbooking.support.Transactions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Mono;

/**
 * The development issuer's refresh tokens (SPEC 11; table {@code refresh_token}, the only writer): 256 random bits,
 * base64url, stored only as their SHA-256. Each use rotates the token: the presented one is marked rotated and a new
 * one of the same family (one sign-in's chain) is issued, valid for {@code booking.auth.refresh-ttl} from then (so a fan
 * who keeps the page open stays signed in; one idle longer than that signs in again). Presenting a token that was
 * already rotated means two parties hold the chain (a stolen copy, or a replay): the whole family is revoked, so
 * neither the thief's nor the owner's next token works. Sign-out revokes the family too.
 *
 * <p>Each exchange is one short transaction whose first statement locks the presented token's row, so two exchanges
 * of one token are serialised: one rotates, the other finds it rotated and revokes the family.
 */
@Component
class RefreshTokens {

    private static final Logger log = LoggerFactory.getLogger(RefreshTokens.class);
    private static final int TOKEN_BYTES = 32;
    /** base64url without padding of {@link #TOKEN_BYTES} bytes: what a genuine token looks like (anything else is a 400). */
    static final String FORM = "[A-Za-z0-9_-]{43}";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The user a valid refresh token signs in again, and the token that replaces it. */
    record Rotated(long userId, String username, String refreshToken) {}

    private sealed interface Exchange permits Renewed, Refused {}

    private record Renewed(Rotated rotated) implements Exchange {}

    private record Refused(String why) implements Exchange {}

    private record Stored(long id, String family, long userId, Instant expiresAt, boolean rotated, boolean revoked) {}

    private final DatabaseClient db;
    private final TransactionalOperator tx;
    private final Duration ttl;
    private final Clock clock;

    RefreshTokens(DatabaseClient db, ReactiveTransactionManager transactions, AuthProperties properties, Clock clock) {
        this.db = db;
        this.tx = Transactions.readCommitted(transactions);
        this.ttl = properties.refreshTtl();
        this.clock = clock;
    }

    Duration ttl() {
        return ttl;
    }

    /** A new family for a fresh sign-in; also drops this user's tokens that have run out (a bounded batch). */
    Mono<String> issue(long userId) {
        return random().flatMap(r -> {
            Instant now = now();
            return db.sql("DELETE FROM refresh_token WHERE user_id = :userId AND expires_at <= :now LIMIT 100")
                    .bind("userId", userId).bind("now", TimeConfig.toDb(now)).fetch().rowsUpdated()
                    .then(insert(r.token(), r.family(), userId, now))
                    .thenReturn(r.token());
        });
    }

    /**
     * Exchanges a refresh token for its successor. 401 UNAUTHENTICATED for an unknown, expired or revoked token, and
     * for a reused one, whose family is then revoked (that revocation commits although the answer is an error).
     */
    Mono<Rotated> rotate(String token) {
        return random().flatMap(next -> Mono.defer(() -> exchange(hash(token), next, now())).as(tx::transactional))
                .flatMap(outcome -> outcome instanceof Renewed renewed ? Mono.just(renewed.rotated())
                        : Mono.error(new ApiException(ErrorCode.UNAUTHENTICATED, ((Refused) outcome).why())));
    }

    /** Sign-out: revokes the token's whole family. Unknown or already revoked tokens change nothing (sign-out is idempotent). */
    Mono<Void> revoke(String token) {
        return db.sql("UPDATE refresh_token t JOIN refresh_token f ON f.family = t.family SET f.revoked_at = :now "
                        + "WHERE t.token_hash = :hash AND f.revoked_at IS NULL")
                .bind("now", TimeConfig.toDb(now())).bind("hash", hash(token))
                .fetch().rowsUpdated().then();
    }

    private Mono<Exchange> exchange(String hash, Fresh next, Instant now) {
        // Locks the token's row only (a join would lock the user's row too, which payments update).
        return db.sql("SELECT id, family, user_id, expires_at, rotated_at, revoked_at FROM refresh_token WHERE token_hash = :hash FOR UPDATE")
                .bind("hash", hash)
                .map(r -> new Stored(r.get("id", Long.class), r.get("family", String.class), r.get("user_id", Long.class),
                        TimeConfig.fromDb(r.get("expires_at", LocalDateTime.class)),
                        r.get("rotated_at", LocalDateTime.class) != null, r.get("revoked_at", LocalDateTime.class) != null))
                .one()
                .flatMap(stored -> {
                    if (stored.revoked()) {
                        return Mono.<Exchange>just(new Refused("The refresh token has been revoked: sign in again"));
                    }
                    if (stored.rotated()) {
                        log.warn("refresh token reused (family {} of user {}): the family is revoked", stored.family(), stored.userId());
                        return db.sql("UPDATE refresh_token SET revoked_at = :now WHERE family = :family AND revoked_at IS NULL")
                                .bind("now", TimeConfig.toDb(now)).bind("family", stored.family()).fetch().rowsUpdated()
                                .thenReturn(new Refused("The refresh token was already used: every sign-in of this chain is revoked; sign in again"));
                    }
                    if (!stored.expiresAt().isAfter(now)) {
                        return Mono.just(new Refused("The refresh token has expired: sign in again"));
                    }
                    return db.sql("UPDATE refresh_token SET rotated_at = :now WHERE id = :id").bind("now", TimeConfig.toDb(now)).bind("id", stored.id())
                            .fetch().rowsUpdated()
                            .then(insert(next.token(), stored.family(), stored.userId(), now))
                            .then(db.sql("SELECT username FROM users WHERE id = :id").bind("id", stored.userId())
                                    .map(r -> r.get("username", String.class)).one())
                            .map(username -> (Exchange) new Renewed(new Rotated(stored.userId(), username, next.token())));
                })
                .defaultIfEmpty(new Refused("The refresh token is not valid: sign in again"));
    }

    private Mono<Long> insert(String token, String family, long userId, Instant now) {
        return db.sql("INSERT INTO refresh_token (token_hash, family, user_id, created_at, expires_at) "
                        + "VALUES (:hash, :family, :userId, :now, :expires)")
                .bind("hash", hash(token)).bind("family", family).bind("userId", userId)
                .bind("now", TimeConfig.toDb(now)).bind("expires", TimeConfig.toDb(now.plus(ttl)))
                .fetch().rowsUpdated();
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MICROS);
    }

    private record Fresh(String token, String family) {}

    /** A token and a family id from SecureRandom, which may read the OS's entropy: off the event loops. */
    private static Mono<Fresh> random() {
        return Mono.fromCallable(() -> {
            byte[] token = new byte[TOKEN_BYTES];
            byte[] family = new byte[16];
            RANDOM.nextBytes(token);
            RANDOM.nextBytes(family);
            return new Fresh(Base64.getUrlEncoder().withoutPadding().encodeToString(token), HexFormat.of().formatHex(family));
        }).subscribeOn(Passwords.CRYPTO);
    }

    static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.US_ASCII)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
