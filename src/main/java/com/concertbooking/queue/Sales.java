package com.concertbooking.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.concertbooking.events.OutboxWriter;
import com.concertbooking.events.OutboxWriter.EventType;
import com.concertbooking.support.TimeConfig;
import com.concertbooking.support.Transactions;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.r2dbc.spi.Readable;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Owner of {@code concert_sale} (SPEC 14): a concert's sale schedule and its draw. The database is the truth
 * (Redis caches the times, see {@link QueueStore#cacheSale}); the seed is drawn once, by a conditional write that
 * exactly one of any number of racing instances wins, and it leaves the service only when the opening is revealed,
 * also by one conditional write, in the transaction that writes the {@code booking.sale.opened} event.
 */
@Repository
class Sales {

    /** A concert's schedule and fairness record; seed and cohort size stay null until drawn and opened. */
    record Sale(long concertId, Instant prequeueOpensAt, Instant opensAt, String seed, String commitment, Instant drawnAt,
                       Long cohortSize, Instant openedAt, long version) {

        boolean revealed() {
            return openedAt != null;
        }
    }

    /** The secret half of a draw, as the service needs it at joins; immutable once drawn. */
    record Drawn(String seed, String commitment) {
        /** Cache markers: the concert has no schedule (permanent: a schedule is only made with the concert), or no seed yet. */
        static final Drawn NO_SALE = new Drawn(null, null), NOT_YET = new Drawn("", "");

        boolean present() {
            return seed != null && !seed.isEmpty();
        }
    }

    private static final String COLUMNS =
            "concert_id, prequeue_opens_at, opens_at, seed, commitment, drawn_at, cohort_size, opened_at, version";

    private final DatabaseClient db;
    private final TransactionalOperator tx;
    private final OutboxWriter outbox;
    private final Clock clock;
    /**
     * Seeds by concert: kept for an hour once drawn (they never change), ten minutes for a concert without a schedule
     * (one is only ever made with the concert), and "not drawn yet" for a second.
     */
    private final AsyncCache<Long, Drawn> drawn = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfter(new ValueExpiry<Long, Drawn>(d -> d.present() ? Duration.ofHours(1)
                    : d == Drawn.NO_SALE ? Duration.ofMinutes(10) : Duration.ofSeconds(1)))
            .buildAsync();

    /** Rows for the public sale page, which every waiting fan's page may ask for at the opening: a second old at most. */
    private final AsyncCache<Long, java.util.Optional<Sale>> recent = Caffeine.newBuilder().maximumSize(10_000)
            .expireAfterWrite(Duration.ofSeconds(1)).buildAsync();

    private final java.time.Duration prequeueWindow;

    Sales(DatabaseClient db, ReactiveTransactionManager transactions, OutboxWriter outbox, Clock clock, SaleProperties properties) {
        this.prequeueWindow = properties.prequeueWindow();
        this.db = db;
        this.tx = Transactions.readCommitted(transactions);
        this.outbox = outbox;
        this.clock = clock;
    }

    private static Sale row(Readable r) {
        return new Sale(r.get("concert_id", Long.class), at(r, "prequeue_opens_at"), at(r, "opens_at"), r.get("seed", String.class),
                r.get("commitment", String.class), at(r, "drawn_at"), r.get("cohort_size", Long.class), at(r, "opened_at"),
                r.get("version", Long.class));
    }

    private static Instant at(Readable r, String column) {
        return TimeConfig.fromDb(r.get(column, LocalDateTime.class));
    }

    /** A concert's schedule; empty when it has none (on sale at once, in arrival order). */
    Mono<Sale> load(long concertId) {
        return db.sql("SELECT " + COLUMNS + " FROM concert_sale WHERE concert_id = :id").bind("id", concertId).map(Sales::row).one();
    }

    /** {@link #load}, at most a second old (the public sale page). */
    Mono<Sale> recent(long concertId) {
        return Mono.fromFuture(() -> recent.get(concertId, (id, executor) -> load(id).map(java.util.Optional::of)
                .defaultIfEmpty(java.util.Optional.empty()).toFuture())).flatMap(Mono::justOrEmpty);
    }

    /** Forgets this instance's copies of a concert's row after it changed here. */
    void changed(long concertId) {
        recent.synchronous().invalidate(concertId);
    }

    Flux<Sale> loadAll(Collection<Long> concertIds) {
        if (concertIds.isEmpty()) {
            return Flux.empty();
        }
        return db.sql("SELECT " + COLUMNS + " FROM concert_sale WHERE concert_id IN (:ids)").bind("ids", List.copyOf(concertIds))
                .map(Sales::row).all();
    }

    /**
     * Schedules a new concert's sale; runs inside the caller's transaction (the concert's creation). Without
     * {@code prequeueOpensAt} the pre-queue opens booking.sale.prequeue-window before; times are kept to the
     * millisecond, as Redis keeps them (the opening is decided there). Answers the times as stored.
     */
    Mono<Sale> create(long concertId, Instant opensAt, Instant prequeueOpensAt) {
        Instant opens = opensAt.truncatedTo(ChronoUnit.MILLIS);
        Instant pre = prequeueOpensAt != null ? prequeueOpensAt.truncatedTo(ChronoUnit.MILLIS) : opens.minus(prequeueWindow);
        return db.sql("INSERT INTO concert_sale (concert_id, prequeue_opens_at, opens_at, version) VALUES (:id, :pre, :opens, 1)")
                .bind("id", concertId).bind("pre", TimeConfig.toDb(pre)).bind("opens", TimeConfig.toDb(opens))
                .fetch().rowsUpdated()
                .thenReturn(new Sale(concertId, pre, opens, null, null, null, null, null, 1));
    }

    /**
     * Moves the times of a sale that has not opened and whose opening is later than {@code notBefore} (Redis time plus
     * a margin, so the cache write lands before the old opening); {@code prequeueOpensAt} null as in {@link #create}.
     * Answers the row as stored now; empty when refused.
     */
    Mono<Sale> move(long concertId, Instant opensAt, Instant prequeueOpensAt, Instant notBefore) {
        Instant opens = opensAt.truncatedTo(ChronoUnit.MILLIS);
        Instant pre = prequeueOpensAt != null ? prequeueOpensAt.truncatedTo(ChronoUnit.MILLIS) : opens.minus(prequeueWindow);
        return db.sql("""
                        UPDATE concert_sale SET prequeue_opens_at = :pre, opens_at = :opens, version = version + 1
                        WHERE concert_id = :id AND opened_at IS NULL AND opens_at > :notBefore""")
                .bind("id", concertId).bind("pre", TimeConfig.toDb(pre)).bind("opens", TimeConfig.toDb(opens))
                .bind("notBefore", TimeConfig.toDb(notBefore))
                .fetch().rowsUpdated()
                .flatMap(n -> n == 1 ? load(concertId) : Mono.empty());
    }

    /** Puts back the times a move replaced, when Redis had opened the sale meanwhile (version-checked). */
    Mono<Void> undoMove(Sale before, long movedVersion) {
        return db.sql("""
                        UPDATE concert_sale SET prequeue_opens_at = :pre, opens_at = :opens, version = version + 1
                        WHERE concert_id = :id AND version = :v""")
                .bind("id", before.concertId()).bind("pre", TimeConfig.toDb(before.prequeueOpensAt()))
                .bind("opens", TimeConfig.toDb(before.opensAt())).bind("v", movedVersion)
                .fetch().rowsUpdated().then();
    }

    /**
     * The draw: a fresh 32-byte seed, unless the concert already has one. Racing instances each offer a seed; the
     * conditional write keeps the first and every caller reads back the same one. The caller has seen the pre-queue
     * open (Redis time), or the opening itself.
     */
    Mono<Drawn> draw(long concertId) {
        String seed = Draw.newSeed();
        return db.sql("""
                        UPDATE concert_sale SET seed = :seed, commitment = :commitment, drawn_at = :now
                        WHERE concert_id = :id AND seed IS NULL""")
                .bind("id", concertId).bind("seed", seed).bind("commitment", Draw.commitment(seed))
                .bind("now", TimeConfig.toDb(clock.instant().truncatedTo(ChronoUnit.MICROS)))
                .fetch().rowsUpdated()
                .then(load(concertId))
                .flatMap(sale -> sale.seed() == null ? Mono.empty() : Mono.just(new Drawn(sale.seed(), sale.commitment())))
                .doOnNext(d -> drawn.put(concertId, java.util.concurrent.CompletableFuture.completedFuture(d)));
    }

    /** The concert's seed and commitment if drawn (cached; a fresh "not drawn" is re-read after a second). */
    Mono<Drawn> drawn(long concertId) {
        return Mono.fromFuture(() -> drawn.get(concertId, (id, executor) -> load(id)
                        .map(s -> s.seed() == null ? Drawn.NOT_YET : new Drawn(s.seed(), s.commitment()))
                        .defaultIfEmpty(Drawn.NO_SALE).toFuture()))
                .filter(Drawn::present);
    }

    /**
     * Records the opening and publishes it (seed, commitment, cohort size) through the outbox, once: of all
     * instances that saw the cohort frozen, the one whose conditional write lands writes the event in the same
     * transaction. A sale that opens without anyone having joined or looked is drawn here (its cohort is empty).
     *
     * @return the sale as revealed, or empty when it was revealed already
     */
    Mono<Sale> reveal(long concertId, long cohortSize) {
        String seed = Draw.newSeed();
        Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
        Mono<Sale> work = db.sql("""
                        UPDATE concert_sale SET seed = COALESCE(seed, :seed), commitment = COALESCE(commitment, :commitment),
                          drawn_at = COALESCE(drawn_at, :now), cohort_size = :size, opened_at = :now
                        WHERE concert_id = :id AND opened_at IS NULL""")
                .bind("id", concertId).bind("seed", seed).bind("commitment", Draw.commitment(seed)).bind("now", TimeConfig.toDb(now))
                .bind("size", cohortSize)
                .fetch().rowsUpdated()
                .flatMap(n -> n == 1 ? load(concertId) : Mono.empty())
                .flatMap(sale -> outbox.append(EventType.SALE_OPENED, concertId, openedEvent(sale)).thenReturn(sale));
        return work.as(tx::transactional);
    }

    private static Map<String, Object> openedEvent(Sale sale) {
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("concertId", sale.concertId());
        payload.put("prequeueOpensAt", sale.prequeueOpensAt().toString());
        payload.put("opensAt", sale.opensAt().toString());
        payload.put("openedAt", sale.openedAt().toString());
        payload.put("commitment", sale.commitment());
        payload.put("seed", sale.seed());
        payload.put("cohortSize", sale.cohortSize());
        return payload;
    }
}
