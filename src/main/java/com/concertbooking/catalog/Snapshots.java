package com.concertbooking.catalog;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.LongSupplier;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import reactor.core.publisher.Mono;

/**
 * Versioned, pre-built snapshots of one kind of display data, one per key (a date's seat map, a concert's dates
 * with free-seat counts), shared by every reader of that key.
 * <ul>
 * <li>A snapshot's version is the (monotonic) time its load started: it reflects every commit before that moment,
 * so its staleness is its age. One older than {@code maxStale} is never served (SPEC section 8).</li>
 * <li>One load per key at a time, however many readers ask: readers of a missing or too-old snapshot all wait for
 * the same in-flight load; readers of a usable one get it at once while a reload runs (no herd on expiry).</li>
 * <li>A reload starts on a read when the snapshot is older than {@code refreshAfter}, or when a change was
 * announced after its load started and it is older than {@code minReload} (or twice its load's duration).</li>
 * </ul>
 * Memory is bounded by the total weight (bytes) of the cached snapshots.
 */
final class Snapshots<V extends Snapshots.Versioned> {

    interface Versioned {
        /** {@link System#nanoTime()} when the load of this snapshot started (before it read anything). */
        long loadStartedNanos();

        /** Bytes held, for the memory bound. */
        int weight();
    }

    /** Loads the snapshot of a key; the second argument is the load's start (nanos) to stamp it with. Empty: no such key. */
    interface Loader<V> extends BiFunction<Long, Long, Mono<V>> {}

    /** A cached snapshot and how long its load took (a slow load makes change-driven reloads rarer). */
    private record Held<V>(V value, long loadNanos) {}

    private final Cache<Long, Held<V>> current;
    /** Nanos of the latest change announced per key; entries older than maxStale no longer matter and are dropped. */
    private final Map<Long, Long> lastChange = new ConcurrentHashMap<>();
    private final Map<Long, CompletableFuture<V>> inflight = new ConcurrentHashMap<>();
    private final Loader<V> loader;
    private final LongSupplier nanos;
    private final long maxStale;
    private final long refreshAfter;
    private final long minReload;
    private final Duration loadTimeout;
    private final AtomicLong loads = new AtomicLong();
    private final Counter hits;
    private final Counter refreshes;
    private final Counter waits;
    /** Load durations by cause: cold (nothing cached), expired (cached one too old to serve), refresh (in the background). */
    private final Map<Cause, Timer> loadTimers = new java.util.EnumMap<>(Cause.class);

    enum Cause { COLD, EXPIRED, REFRESH }

    Snapshots(String kind, SeatMapProperties settings, long maxBytes, Loader<V> loader, LongSupplier nanos, MeterRegistry meters) {
        this.loader = loader;
        this.nanos = nanos;
        this.maxStale = settings.maxStale().toNanos();
        this.refreshAfter = settings.refreshAfter().toNanos();
        this.minReload = settings.minReload().toNanos();
        this.loadTimeout = settings.loadTimeout();
        this.current = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((Long key, Held<V> held) -> held.value().weight())
                // Dates nobody looks at any more leave memory; the weight bound handles the busy ones.
                .expireAfterAccess(Duration.ofMinutes(10))
                .build();
        String description = "Reads of cached " + kind + " snapshots: hit (fresh), refresh (served while a reload runs), "
                + "wait (missing or older than the staleness bound: waited for the shared load)";
        this.hits = Counter.builder("booking.seatmaps.requests").tag("kind", kind).tag("result", "hit").description(description).register(meters);
        this.refreshes = Counter.builder("booking.seatmaps.requests").tag("kind", kind).tag("result", "refresh").description(description).register(meters);
        this.waits = Counter.builder("booking.seatmaps.requests").tag("kind", kind).tag("result", "wait").description(description).register(meters);
        for (Cause cause : Cause.values()) {
            loadTimers.put(cause, Timer.builder("booking.seatmaps.loads").tag("kind", kind).tag("cause", cause.name().toLowerCase())
                    .description("Loads of " + kind + " snapshots from the database (one per key at a time)").register(meters));
        }
        Gauge.builder("booking.seatmaps.bytes", current, c -> c.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L))
                .tag("kind", kind).description("Bytes of cached " + kind + " snapshots").baseUnit("bytes")
                .strongReference(true).register(meters);
    }

    Mono<V> get(long key) {
        return Mono.defer(() -> {
            Held<V> held = current.getIfPresent(key);
            V snapshot = held == null ? null : held.value();
            if (snapshot != null) {
                long age = nanos.getAsLong() - snapshot.loadStartedNanos();
                if (age <= maxStale) {
                    // After an announced change: reload once min-reload has passed, but for a slow load (a 50,000-seat date)
                    // only after twice its duration, so change-driven reloads of one key take at most half of a thread.
                    long changeReload = Math.min(refreshAfter, Math.max(minReload, 2 * held.loadNanos()));
                    if (age >= refreshAfter || (age >= changeReload && changedSince(key, snapshot.loadStartedNanos()))) {
                        refreshes.increment();
                        load(key, Cause.REFRESH); // shared; this reader does not wait for it
                    } else {
                        hits.increment();
                    }
                    return Mono.just(snapshot);
                }
            }
            waits.increment();
            // suppressCancel: one reader going away must not cancel the load the others wait for.
            return Mono.fromFuture(load(key, snapshot == null ? Cause.COLD : Cause.EXPIRED), true);
        });
    }

    /** A change of this key was committed (here or on another instance). Cheap: called on every seat write. */
    void changed(long key) {
        lastChange.put(key, nanos.getAsLong());
    }

    /** Drops change marks older than the staleness bound: by then every snapshot they concern is too old to serve. */
    void forgetOldChanges() {
        long now = nanos.getAsLong();
        lastChange.values().removeIf(at -> now - at > 2 * maxStale);
    }

    private boolean changedSince(long key, long loadStarted) {
        Long at = lastChange.get(key);
        return at != null && at - loadStarted >= 0;
    }

    /** The one in-flight load of this key, started if none runs. Completes with null when the key does not exist. */
    private CompletableFuture<V> load(long key, Cause cause) {
        CompletableFuture<V> mine = new CompletableFuture<>();
        CompletableFuture<V> running = inflight.putIfAbsent(key, mine);
        if (running != null) {
            return running;
        }
        long started = nanos.getAsLong();
        loads.incrementAndGet();
        // Deferred: a loader that throws must still end in the future below, or the key would stay "loading" for ever.
        Mono.defer(() -> loader.apply(key, started))
                .timeout(loadTimeout)
                .toFuture()
                .whenComplete((snapshot, error) -> {
                    long took = nanos.getAsLong() - started;
                    loadTimers.get(cause).record(took, TimeUnit.NANOSECONDS);
                    if (error == null) {
                        if (snapshot == null) {
                            current.invalidate(key);
                        } else {
                            // Never replace a newer snapshot by an older one (loads of one key do not overlap, but be safe).
                            current.asMap().merge(key, new Held<>(snapshot, took),
                                    (old, fresh) -> fresh.value().loadStartedNanos() - old.value().loadStartedNanos() >= 0 ? fresh : old);
                        }
                    }
                    inflight.remove(key, mine);
                    if (error != null) {
                        mine.completeExceptionally(error);
                    } else {
                        mine.complete(snapshot);
                    }
                });
        return mine;
    }

    /** Loads started so far (tests: a cold key read by many at once loads once). */
    long loads() {
        return loads.get();
    }

    /** Loads of this cause completed so far. */
    long loads(Cause cause) {
        return loadTimers.get(cause).count();
    }

    /** Whether a change of this key was announced after its current snapshot's load started (tests). */
    boolean dirty(long key) {
        Held<V> held = current.getIfPresent(key);
        return held != null && changedSince(key, held.value().loadStartedNanos());
    }

    V peek(long key) {
        Held<V> held = current.getIfPresent(key);
        return held == null ? null : held.value();
    }

    /** Bytes cached, after running the cache's pending evictions (tests). */
    long cachedBytes() {
        current.cleanUp();
        return current.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L);
    }
}
