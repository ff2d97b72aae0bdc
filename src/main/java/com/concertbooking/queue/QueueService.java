package com.concertbooking.queue;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;

import com.concertbooking.queue.QueueStore.EntryState;
import com.concertbooking.queue.QueueStore.Kind;
import com.concertbooking.catalog.CatalogStore;
import com.concertbooking.auth.ActivePass;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.wallet.WalletStore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import org.springframework.stereotype.Service;
import reactor.core.publisher.Mono;

/** Waiting queue and admissions on Redis: issuing, checking and ending queue passes. */
@Service
public class QueueService {

    /** What a client sees of its place: the body of the token and status responses. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Ticket(String token, long userId, long concertId, String status, Long position,
                         Long estimatedWaitSeconds, Instant activeUntil) {}

    public record Issued(Ticket ticket, boolean created) {}

    /** A genuine token with its entry's state now; not {@link #live} when the entry is gone (left, used, expired). */
    public record Verified(TokenCodec.Claims pass, EntryState state, Ticket ticket) {
        public boolean live() {
            return state.kind() != Kind.GONE;
        }
    }

    private final QueueStore store;
    private final TokenCodec tokens;
    private final CatalogStore catalog;
    private final Duration tick;
    private final WalletStore wallets;
    private final AsyncCache<Long, Boolean> concerts = existenceCache();
    private final AsyncCache<Long, Boolean> users = existenceCache();

    public QueueService(QueueStore store, TokenCodec tokens, CatalogStore catalog, WalletStore wallets, QueueProperties properties) {
        this.store = store;
        this.wallets = wallets;
        this.tokens = tokens;
        this.catalog = catalog;
        this.tick = properties.tick();
    }

    /** Known concerts and users are cached for minutes (they are never deleted); unknown ones only briefly. */
    private static AsyncCache<Long, Boolean> existenceCache() {
        return Caffeine.newBuilder().maximumSize(100_000).expireAfter(new Expiry<Long, Boolean>() {
            @Override
            public long expireAfterCreate(Long key, Boolean exists, long now) {
                return (exists ? Duration.ofMinutes(10) : Duration.ofSeconds(2)).toNanos();
            }

            @Override
            public long expireAfterUpdate(Long key, Boolean exists, long now, long current) {
                return expireAfterCreate(key, exists, now);
            }

            @Override
            public long expireAfterRead(Long key, Boolean exists, long now, long current) {
                return current;
            }
        }).buildAsync();
    }

    public Mono<Void> requireConcert(long concertId) {
        return Mono.fromFuture(() -> concerts.get(concertId, (id, executor) ->
                        catalog.concert(id).hasElement().toFuture()))
                .flatMap(exists -> exists ? Mono.<Void>empty()
                        : Mono.error(ApiException.of(ErrorCode.CONCERT_NOT_FOUND, "Concert %d does not exist", concertId)));
    }

    /** Only existing users join (SPEC 4.9): ids nobody owns cannot fill a concert's ACTIVE slots. */
    Mono<Void> requireUser(long userId) {
        return Mono.fromFuture(() -> users.get(userId, (id, executor) -> wallets.balance(id).hasElement().toFuture()))
                .flatMap(exists -> exists ? Mono.<Void>empty()
                        : Mono.error(ApiException.of(ErrorCode.USER_NOT_FOUND, "User %d does not exist", userId)));
    }

    /** Issue a token, or report the live one this user already has for this concert (same place, same entry). */
    public Mono<Issued> issue(long userId, long concertId) {
        return requireUser(userId).then(requireConcert(concertId))
                .then(Mono.defer(() -> store.join(concertId, userId, entryId(System.currentTimeMillis()))))
                .map(joined -> new Issued(ticket(tokens.sign(userId, concertId, joined.entryId()), userId, concertId, joined.state(),
                        estimateSeconds(joined.state(), joined.observedRate(), joined.admitPerTick())), joined.created()));
    }

    /**
     * A fresh entry id: a version 7 UUID, random but for its first 48 bits, the join time in ms. The operator's
     * "oldest wait" reads the join time back from the front entry's id, so no extra Redis key is needed.
     */
    static String entryId(long nowMs) {
        UUID random = UUID.randomUUID();
        long high = (nowMs << 16) | 0x7000L | (random.getMostSignificantBits() & 0x0FFFL);
        return new UUID(high, random.getLeastSignificantBits()).toString();
    }

    /** The join time of an entry id made by {@link #entryId}, or null for another kind of id. */
    static Long joinedAtMs(String entryId) {
        try {
            UUID id = UUID.fromString(entryId);
            return id.version() == 7 ? id.getMostSignificantBits() >>> 16 : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Verify signature and liveness; a poll like this one counts as presence. */
    public Mono<Verified> verify(String token) {
        TokenCodec.Claims claims;
        try {
            claims = tokens.verify(token);
        } catch (ApiException e) {
            return Mono.error(e);
        }
        return store.states(claims.concertId(), List.of(new QueueStore.Member(claims.userId(), claims.entryId())), true)
                .map(batch -> {
                    EntryState state = batch.states().get(0);
                    Long est = estimateSeconds(state, batch.observedRate(), batch.admitPerTick());
                    return new Verified(claims, state, ticket(token, claims.userId(), claims.concertId(), state, est));
                });
    }

    /** Leave the queue (or give up an active pass). */
    Mono<Void> leave(TokenCodec.Claims pass) {
        return store.leave(pass.concertId(), pass.userId(), pass.entryId()).then();
    }

    /** Ends a pass after payment: the ACTIVE slot is freed and the token is dead from now on. */
    public Mono<Void> endPass(ActivePass pass) {
        return store.leave(pass.concertId(), pass.userId(), pass.entryId()).then();
    }

    /**
     * Seconds until admission at the observed admission rate; before anything was observed, at the configured
     * rate; null when the queue is paused and nothing is moving (the wait is then unknown).
     */
    public Long estimateSeconds(EntryState state, double observedPerSecond, int admitPerTick) {
        if (state.kind() == Kind.ACTIVE) {
            return 0L;
        }
        if (state.kind() != Kind.WAITING) {
            return null;
        }
        if (observedPerSecond > 0) {
            return (long) Math.ceil(state.position() / observedPerSecond);
        }
        if (admitPerTick > 0) {
            long ticks = (state.position() + admitPerTick - 1) / admitPerTick;
            return (long) Math.ceil(ticks * tick.toMillis() / 1000.0);
        }
        return null;
    }

    static Ticket ticket(String token, long userId, long concertId, EntryState state, Long estimate) {
        return switch (state.kind()) {
            case WAITING -> new Ticket(token, userId, concertId, "WAITING", state.position(), estimate, null);
            case ACTIVE -> new Ticket(token, userId, concertId, "ACTIVE", null, 0L, state.activeUntil().truncatedTo(ChronoUnit.MILLIS));
            case GONE -> new Ticket(token, userId, concertId, "EXPIRED", null, null, null);
        };
    }
}
