package com.concertbooking.events;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.concertbooking.support.TimeConfig;
import com.concertbooking.support.Transactions;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Mono;

/** The relay's access to the {@code outbox} table: claims, acknowledgements, purge and lag. */
@Repository
class OutboxStore {

    /** A row claimed for sending. {@code topic} is the base topic name (without prefix). */
    public record Row(long id, String eventId, String topic, String key, String payload) {}

    public record Lag(long unsent, Duration oldestAge) {}

    private record Candidate(Row row, String claimedBy, LocalDateTime claimedUntil) {}

    private final DatabaseClient db;
    private final Clock clock;
    private final TransactionalOperator claimTx;

    public OutboxStore(DatabaseClient db, Clock clock, ReactiveTransactionManager tm) {
        this.db = db;
        this.clock = clock;
        // READ COMMITTED: the locking read takes no gap locks, so it never delays business transactions
        // that insert new outbox rows, and it sees other instances' committed claims.
        this.claimTx = Transactions.readCommitted(tm, Duration.ofSeconds(10));
    }

    /**
     * Claims up to {@code limit} unsent rows for {@code instance}, oldest first, in one short transaction
     * (no Kafka call inside). Rows of a key stay in order across instances: a row is skipped when an
     * earlier unsent row of its key is leased by anyone (that instance sends the key's rows first).
     *
     * <p>The read is FOR UPDATE without SKIP LOCKED on purpose: a second claimer waits the few
     * milliseconds until the first one commits and then sees its leases; with SKIP LOCKED it would not
     * see which keys are in flight and could overtake an earlier row of the same key.
     */
    public Mono<List<Row>> claim(String instance, int limit, Duration lease) {
        Instant now = clock.instant();
        LocalDateTime dbNow = TimeConfig.toDb(now);
        Mono<List<Row>> work = db.sql("""
                        SELECT id, event_id, topic, message_key, payload, claimed_by, claimed_until
                        FROM outbox WHERE status = 'PENDING' ORDER BY id LIMIT :scan FOR UPDATE""")
                .bind("scan", limit * 2)
                .map(r -> new Candidate(new Row(r.get("id", Long.class), r.get("event_id", String.class), r.get("topic", String.class),
                        r.get("message_key", String.class), r.get("payload", String.class)),
                        r.get("claimed_by", String.class), r.get("claimed_until", LocalDateTime.class)))
                .all()
                .collectList()
                .flatMap(candidates -> {
                    List<Row> claimed = new ArrayList<>();
                    Set<String> blockedKeys = new HashSet<>();
                    for (Candidate c : candidates) {
                        if (claimed.size() == limit) {
                            break;
                        }
                        boolean leased = c.claimedUntil() != null && c.claimedUntil().isAfter(dbNow);
                        if (leased || blockedKeys.contains(c.row().key())) {
                            blockedKeys.add(c.row().key());
                        } else {
                            claimed.add(c.row());
                        }
                    }
                    if (claimed.isEmpty()) {
                        return Mono.just(List.<Row>of());
                    }
                    return db.sql("""
                                    UPDATE outbox SET claimed_by = :instance, claimed_until = :until, attempts = attempts + 1
                                    WHERE id IN (:ids)""")
                            .bind("instance", instance)
                            .bind("until", TimeConfig.toDb(now.plus(lease)))
                            .bind("ids", ids(claimed))
                            .fetch().rowsUpdated()
                            .thenReturn(List.copyOf(claimed));
                });
        return claimTx.transactional(work);
    }

    /** Marks rows delivered (only rows the broker acknowledged). */
    public Mono<Long> markSent(Collection<Long> ids) {
        if (ids.isEmpty()) {
            return Mono.just(0L);
        }
        return db.sql("""
                        UPDATE outbox SET status = 'SENT', sent_at = :now, claimed_by = NULL, claimed_until = NULL
                        WHERE id IN (:ids) AND status = 'PENDING'""")
                .bind("now", TimeConfig.toDb(clock.instant()))
                .bind("ids", List.copyOf(ids))
                .fetch().rowsUpdated();
    }

    /** Gives up this instance's claim on rows that were not acknowledged, so the next pass retries them. */
    public Mono<Long> release(String instance, Collection<Long> ids) {
        if (ids.isEmpty()) {
            return Mono.just(0L);
        }
        return db.sql("""
                        UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
                        WHERE id IN (:ids) AND claimed_by = :instance AND status = 'PENDING'""")
                .bind("ids", List.copyOf(ids))
                .bind("instance", instance)
                .fetch().rowsUpdated();
    }

    /**
     * Gives up every unsent row still leased to {@code instance}: called when a relay starts, since whatever an
     * earlier life under the same id (a killed and restarted instance) had claimed will never be acknowledged.
     * Without it those rows, and the later rows of their keys, waited for the lease to run out.
     */
    public Mono<Long> releaseAll(String instance) {
        return db.sql("""
                        UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
                        WHERE claimed_by = :instance AND status = 'PENDING'""")
                .bind("instance", instance)
                .fetch().rowsUpdated();
    }

    /** Deletes up to {@code limit} rows sent before {@code cutoff}; served by the (sent_at) index. */
    public Mono<Long> purgeSentBefore(Instant cutoff, int limit) {
        return db.sql("DELETE FROM outbox WHERE sent_at < :cutoff AND status = 'SENT' LIMIT :limit")
                .bind("cutoff", TimeConfig.toDb(cutoff))
                .bind("limit", limit)
                .fetch().rowsUpdated();
    }

    /** Unsent count and age of the oldest unsent row; served by the (status, id) index. */
    public Mono<Lag> lag() {
        return db.sql("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status = 'PENDING'")
                .map(r -> {
                    long n = r.get("n", Long.class);
                    LocalDateTime oldest = r.get("oldest", LocalDateTime.class);
                    Duration age = oldest == null ? Duration.ZERO : Duration.between(TimeConfig.fromDb(oldest), clock.instant());
                    return new Lag(n, age.isNegative() ? Duration.ZERO : age);
                })
                .one();
    }

    private static List<Long> ids(List<Row> rows) {
        return rows.stream().map(Row::id).toList();
    }
}
