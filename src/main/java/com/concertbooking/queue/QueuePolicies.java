package com.concertbooking.queue;

import java.time.Clock;
import java.util.Collection;
import java.util.List;

import com.concertbooking.support.TimeConfig;
import io.r2dbc.spi.Readable;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Owner of {@code queue_policy}: an operator's per-concert policy is stored here (SPEC 4.12) and only cached in
 * Redis by {@link QueueStore}. A null field means the configured default; {@code version} grows with every change
 * and decides which of two cache writes wins.
 */
@Repository
class QueuePolicies {

    /**
     * A concert's stored policy and the operator's message to its fans; {@code version} 0 and all nulls when the
     * operator never set one.
     */
    record Policy(long concertId, Integer admitPerTick, Integer maxActive, Long activeTtlMs, Long waitTimeoutMs, String message,
                  long version) {
        static Policy defaults(long concertId) {
            return new Policy(concertId, null, null, null, null, null, 0);
        }
    }

    private static final String COLUMNS = "concert_id, admit_per_tick, max_active, active_ttl_ms, waiting_timeout_ms, message, version";

    private final DatabaseClient db;
    private final Clock clock;

    QueuePolicies(DatabaseClient db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    private static Policy row(Readable r) {
        return new Policy(r.get("concert_id", Long.class), r.get("admit_per_tick", Integer.class), r.get("max_active", Integer.class),
                r.get("active_ttl_ms", Long.class), r.get("waiting_timeout_ms", Long.class), r.get("message", String.class),
                r.get("version", Long.class));
    }

    Mono<Policy> load(long concertId) {
        return db.sql("SELECT " + COLUMNS + " FROM queue_policy WHERE concert_id = :id").bind("id", concertId)
                .map(QueuePolicies::row).one()
                .defaultIfEmpty(Policy.defaults(concertId));
    }

    /** Stored policies of these concerts (those without a row are absent). */
    Flux<Policy> loadAll(Collection<Long> concertIds) {
        if (concertIds.isEmpty()) {
            return Flux.empty();
        }
        return db.sql("SELECT " + COLUMNS + " FROM queue_policy WHERE concert_id IN (:ids)").bind("ids", List.copyOf(concertIds))
                .map(QueuePolicies::row).all();
    }

    /**
     * Stores a change: rate and cap always, the two time limits only when given (null keeps what is stored).
     * One statement, so concurrent changes serialise on the row; answers the row as stored now.
     */
    Mono<Policy> save(long concertId, int admitPerTick, int maxActive, Long activeTtlMs, Long waitTimeoutMs) {
        DatabaseClient.GenericExecuteSpec spec = db.sql("""
                        INSERT INTO queue_policy (concert_id, admit_per_tick, max_active, active_ttl_ms, waiting_timeout_ms, version, updated_at)
                        VALUES (:id, :admit, :max, :ttl, :wait, 1, :now)
                        ON DUPLICATE KEY UPDATE admit_per_tick = :admit, max_active = :max,
                          active_ttl_ms = COALESCE(:ttl, active_ttl_ms), waiting_timeout_ms = COALESCE(:wait, waiting_timeout_ms),
                          version = version + 1, updated_at = :now""")
                .bind("id", concertId).bind("admit", admitPerTick).bind("max", maxActive)
                .bind("now", TimeConfig.toDb(clock.instant()));
        spec = activeTtlMs == null ? spec.bindNull("ttl", Long.class) : spec.bind("ttl", activeTtlMs);
        spec = waitTimeoutMs == null ? spec.bindNull("wait", Long.class) : spec.bind("wait", waitTimeoutMs);
        return spec.fetch().rowsUpdated().then(load(concertId));
    }

    /** Stores the operator's message (null clears it), leaving the rest of the policy as it is. */
    Mono<Policy> saveMessage(long concertId, String message) {
        DatabaseClient.GenericExecuteSpec spec = db.sql("""
                        INSERT INTO queue_policy (concert_id, message, version, updated_at) VALUES (:id, :message, 1, :now)
                        ON DUPLICATE KEY UPDATE message = :message, version = version + 1, updated_at = :now""")
                .bind("id", concertId).bind("now", TimeConfig.toDb(clock.instant()));
        spec = message == null ? spec.bindNull("message", String.class) : spec.bind("message", message);
        return spec.fetch().rowsUpdated().then(load(concertId));
    }
}
