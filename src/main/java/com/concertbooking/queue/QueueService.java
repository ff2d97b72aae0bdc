package com.concertbooking.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.UUID;

import com.concertbooking.queue.QueueStore.Conditions;
import com.concertbooking.queue.QueueStore.EntryState;
import com.concertbooking.queue.QueueStore.Kind;
import com.concertbooking.auth.ActivePass;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.wallet.WalletStore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.springframework.stereotype.Service;
import reactor.core.publisher.Mono;

/** Waiting queue and admissions on Redis: issuing, checking and ending queue passes. */
@Service
public class QueueService {

    /**
     * What a client sees of its place: the body of the token and status responses (SPEC 3). {@code position} and
     * {@code admission} while WAITING; {@code opensAt}, {@code serverTime} and the draw's {@code commitment} in the
     * PREQUEUE; {@code estimatedWaitSeconds} is always present, null unless admission is RUNNING (0 when ACTIVE).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Ticket(String token, String queueId, long userId, long concertId, String status, Long position, Admission admission,
                         @JsonInclude(JsonInclude.Include.ALWAYS) Long estimatedWaitSeconds, Instant activeUntil, Instant opensAt,
                         Instant serverTime, String commitment, String message, Boolean soldOut) {}

    public record Issued(Ticket ticket, boolean created) {}

    /** A genuine token with its entry's state now; not {@link #live} when the entry is gone (left, used, expired). */
    public record Verified(TokenCodec.Claims pass, EntryState state, Conditions conditions, Supplier<Ticket> tickets) {
        public boolean live() {
            return state.kind() != Kind.GONE;
        }

        /**
         * The fan-facing answer, built when asked: holds and payments only need the state, and the ticket's queue ID
         * costs six HMACs (issue 18: no signature work a request does not need).
         */
        public Ticket ticket() {
            return tickets.get();
        }
    }

    private final QueueStore store;
    private final TokenCodec tokens;
    private final QueueIds queueIds;
    private final Sales sales;
    private final WaitEstimates waits;
    private final ConcertFacts catalog;
    private final WalletStore wallets;
    private final Clock clock;
    private final AsyncCache<Long, Boolean> concerts = existenceCache();
    private final AsyncCache<Long, Boolean> users = existenceCache();
    /** Whether anything is left to buy, per concert: at most one probe per concert and second on this instance. */
    private final AsyncCache<Long, Boolean> soldOut = Caffeine.newBuilder()
            .expireAfterWrite(Duration.ofSeconds(1)).maximumSize(100_000).buildAsync();

    public QueueService(QueueStore store, TokenCodec tokens, QueueIds queueIds, Sales sales, WaitEstimates waits, ConcertFacts catalog,
                        WalletStore wallets, Clock clock) {
        this.store = store;
        this.tokens = tokens;
        this.queueIds = queueIds;
        this.sales = sales;
        this.waits = waits;
        this.catalog = catalog;
        this.wallets = wallets;
        this.clock = clock;
    }

    /** Known concerts and users are cached for minutes (they are never deleted); unknown ones only briefly. */
    private static AsyncCache<Long, Boolean> existenceCache() {
        return Caffeine.newBuilder().maximumSize(100_000)
                .expireAfter(new ValueExpiry<Long, Boolean>(exists -> exists ? Duration.ofMinutes(10) : Duration.ofSeconds(2)))
                .buildAsync();
    }

    public Mono<Void> requireConcert(long concertId) {
        return Mono.fromFuture(() -> concerts.get(concertId, (id, executor) ->
                        catalog.concertExists(id).toFuture()))
                .flatMap(exists -> exists ? Mono.<Void>empty()
                        : Mono.error(ApiException.of(ErrorCode.CONCERT_NOT_FOUND, "Concert %d does not exist", concertId)));
    }

    /** Only existing users join (SPEC 4.9): ids nobody owns cannot fill a concert's ACTIVE slots. */
    Mono<Void> requireUser(long userId) {
        return Mono.fromFuture(() -> users.get(userId, (id, executor) -> wallets.balance(id).hasElement().toFuture()))
                .flatMap(exists -> exists ? Mono.<Void>empty()
                        : Mono.error(ApiException.of(ErrorCode.USER_NOT_FOUND, "User %d does not exist", userId)));
    }

    /** SPEC 14: no seat of the concert free or held on a date still ahead (probed at most once a second here). */
    Mono<Boolean> soldOut(long concertId) {
        return Mono.fromFuture(() -> soldOut.get(concertId, (id, executor) ->
                catalog.anySeatLeft(id, clock.instant()).map(left -> !left).toFuture()));
    }

    /**
     * Issue a token, or report the live one this user already has for this concert (same place, same entry). Before
     * the pre-queue opens: 409 SALE_NOT_OPEN with the times; nothing left to buy: 409 SOLD_OUT (both write nothing).
     */
    public Mono<Issued> issue(long userId, long concertId) {
        return requireUser(userId).then(requireConcert(concertId)).then(Mono.defer(() -> join(userId, concertId, false)));
    }

    private Mono<Issued> join(long userId, long concertId, boolean afterDraw) {
        Mono<Optional<Sales.Drawn>> drawn = sales.drawn(concertId).map(Optional::of).defaultIfEmpty(Optional.empty());
        return Mono.zip(drawn, soldOut(concertId)).flatMap(t -> {
            String digest = t.getT1().map(d -> Draw.digest(d.seed(), userId)).orElse("");
            return store.join(concertId, userId, entryId(clock.millis()), digest, t.getT2()).flatMap(outcome -> {
                if (outcome instanceof QueueStore.Joined joined) {
                    String token = tokens.sign(userId, concertId, joined.entryId());
                    String commitment = t.getT1().map(Sales.Drawn::commitment).orElse(null);
                    return Mono.just(new Issued(ticket(token, userId, concertId, joined.state(), joined.conditions(), commitment),
                            joined.created()));
                }
                if (outcome instanceof QueueStore.NotOpen notOpen) {
                    Map<String, Object> times = new LinkedHashMap<>();
                    times.put("prequeueOpensAt", notOpen.prequeueOpensAt());
                    times.put("opensAt", notOpen.opensAt());
                    times.put("serverTime", notOpen.now());
                    return Mono.error(new ApiException(ErrorCode.SALE_NOT_OPEN, String.format(
                            "The sale of concert %d has not opened yet: its pre-queue opens at %s, the sale at %s",
                            concertId, notOpen.prequeueOpensAt(), notOpen.opensAt()), null, times));
                }
                if (outcome instanceof QueueStore.SoldOut) {
                    return Mono.error(ApiException.of(ErrorCode.SOLD_OUT, "Concert %d is sold out: no seat is free or held", concertId));
                }
                // The pre-queue is open and this instance has no seed yet: draw it (or read the one another drew).
                return afterDraw ? Mono.error(new IllegalStateException("no seed for concert " + concertId + " after the draw"))
                        : sales.draw(concertId).then(Mono.defer(() -> join(userId, concertId, true)));
            });
        });
    }

    /** A scheduled sale's times (SPEC 14). */
    public record SaleTimes(Instant prequeueOpensAt, Instant opensAt) {}

    /**
     * Schedules a new concert's sale, inside the caller's transaction (the concert's creation): the pre-queue opens
     * at {@code prequeueOpensAt}, or booking.sale.prequeue-window before {@code opensAt} when null.
     */
    public Mono<SaleTimes> scheduleSale(long concertId, Instant opensAt, Instant prequeueOpensAt) {
        return sales.create(concertId, opensAt, prequeueOpensAt).map(s -> new SaleTimes(s.prequeueOpensAt(), s.opensAt()));
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
                .flatMap(batch -> {
                    EntryState state = batch.states().get(0);
                    Mono<String> commitment = state.kind() == Kind.PREQUEUE
                            ? sales.drawn(claims.concertId()).map(Sales.Drawn::commitment) : Mono.empty();
                    return commitment.map(Optional::of).defaultIfEmpty(Optional.empty()).map(c -> new Verified(claims, state,
                            batch.conditions(), () -> ticket(token, claims.userId(), claims.concertId(), state, batch.conditions(), c.orElse(null))));
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

    /** The estimated wait of a state: 0 when active, seconds while waiting with admission running, else null. */
    Long estimateSeconds(long concertId, EntryState state, Conditions conditions) {
        return switch (state.kind()) {
            case ACTIVE -> 0L;
            case WAITING -> waits.seconds(concertId, state.position(), conditions.admission(), conditions.admitPerTick());
            default -> null;
        };
    }

    /** The queue ID a fan reads out to support (null for user ids beyond its range). */
    String queueId(long concertId, long userId) {
        return queueIds.of(concertId, userId);
    }

    Ticket ticket(String token, long userId, long concertId, EntryState state, Conditions c, String commitment) {
        return ticket(token, queueIds.of(concertId, userId), userId, concertId, state, c, estimateSeconds(concertId, state, c), commitment);
    }

    static Ticket ticket(String token, String queueId, long userId, long concertId, EntryState state, Conditions c, Long estimate,
                         String commitment) {
        Boolean soldOut = c.soldOut() && state.kind() != Kind.GONE ? Boolean.TRUE : null;
        return switch (state.kind()) {
            case PREQUEUE -> new Ticket(token, queueId, userId, concertId, "PREQUEUE", null, null, null, null, c.opensAt(),
                    c.serverTime(), commitment, c.message(), soldOut);
            case WAITING -> new Ticket(token, queueId, userId, concertId, "WAITING", state.position(), c.admission(), estimate,
                    null, null, null, null, c.message(), soldOut);
            case ACTIVE -> new Ticket(token, queueId, userId, concertId, "ACTIVE", null, null, 0L,
                    state.activeUntil().truncatedTo(ChronoUnit.MILLIS), null, null, null, c.message(), soldOut);
            case GONE -> new Ticket(token, queueId, userId, concertId, "EXPIRED", null, null, null, null, null, null, null, null, null);
        };
    }
}
