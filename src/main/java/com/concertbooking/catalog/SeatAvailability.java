package com.concertbooking.catalog;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import java.util.zip.CRC32;

import com.concertbooking.booking.SeatsChanged;
import com.concertbooking.support.LuaScript;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.io.ClassPathResource;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Seat availability of big venues without re-reading their seats (SPEC 8, issue 18). Per date, each instance keeps
 * the layout (seat ids, grades, prices: immutable) and every seat's state in memory, read from the database once,
 * and then kept current from the seat owner's committed changes ({@link SeatsChanged}) and the hold expiry times.
 * <p>
 * <b>One version sequence for all instances: a change log per date in Redis.</b> The instance where a change
 * commits appends it ({@code catalog/append.lua}): each change takes the next version of the date's counter, and a
 * change whose order ({@link SeatsChanged.Change#order()}) is not above the seat's latest logged one is dropped, so
 * two instances announcing one seat out of commit order still log its states in order. Every instance pulls the log
 * entries after its version (right after its own appends, and every {@code publish-interval} for the dates read in
 * the last {@value #HOT_SECONDS} s), so a version means the same seats everywhere and a client may take its
 * {@code ETag} or {@code since} to any instance. A hold that runs out is appended as a change too, by the first
 * instance whose clock passes its end (the sweeper's later release of it has the same order and is dropped).
 * <p>
 * A fresh load reads the counter first, then the seats, then applies the entries after that counter: the entries
 * are states, applied in log order, so the ones the seat read already saw do no harm. The log keeps the last
 * {@value #REDIS_KEEP} entries: an instance further behind (or a Redis that lost the counter) loads the date again.
 * Redis is not needed to serve: when a date cannot be synchronised for {@code max-stale}, its next read loads the
 * seats from the database (version 0: unversioned, no ETag, no deltas) until Redis answers again.
 */
@Component
class SeatAvailability implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(SeatAvailability.class);
    static final int HOT_SECONDS = 30;
    static final int REDIS_KEEP = 20_000;
    static final int LOCAL_LOG = 8_192;
    private static final int PULL_LIMIT = 5_000;
    private static final Duration REDIS_TIMEOUT = Duration.ofMillis(500);
    private static final Duration KEY_TTL = Duration.ofDays(2);
    private static final RedisScript<String> APPEND = new LuaScript<>(read("append"), String.class);
    @SuppressWarnings("rawtypes")
    private static final RedisScript<List> READ = new LuaScript<>(read("read"), List.class);

    static final byte FREE = 0, HELD = 1, SOLD = 2;

    private final CatalogStore store;
    private final ReactiveStringRedisTemplate redis;
    private final Clock clock;
    private final LongSupplier nanos;
    private final long maxStale;
    private final Duration pollInterval;
    private final Cache<Long, DateSeats> dates;
    private final Map<Long, CompletableFuture<DateSeats>> loading = new ConcurrentHashMap<>();
    private final Map<Long, Queue<String>> pending = new ConcurrentHashMap<>();
    private final Set<Long> appending = ConcurrentHashMap.newKeySet();
    private volatile LongConsumer onChange = id -> {};
    private volatile Disposable poller;

    @Autowired
    SeatAvailability(CatalogStore store, ReactiveStringRedisTemplate redis, Clock clock, SeatMapProperties settings) {
        this(store, redis, clock, settings, System::nanoTime);
    }

    SeatAvailability(CatalogStore store, ReactiveStringRedisTemplate redis, Clock clock, SeatMapProperties settings, LongSupplier nanos) {
        this.store = store;
        this.redis = redis;
        this.clock = clock;
        this.nanos = nanos;
        this.maxStale = settings.maxStale().toNanos();
        this.pollInterval = settings.publishInterval();
        this.dates = Caffeine.newBuilder()
                .maximumWeight(settings.maxBytes().toBytes())
                .weigher((Long id, DateSeats d) -> d.weight())
                .expireAfterAccess(Duration.ofMinutes(10))
                .build();
    }

    private static String read(String name) {
        try (var in = new ClassPathResource("catalog/" + name + ".lua").getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("missing Lua script " + name, e);
        }
    }

    static List<String> keys(long concertDateId) {
        String prefix = "seats:{date:" + concertDateId + "}:";
        return List.of(prefix + "v", prefix + "log", prefix + "order");
    }

    /** Called with a date's id whenever its seats changed here (the seat maps rebuild from this state). */
    void onChange(LongConsumer hook) {
        this.onChange = hook;
    }

    // ------------------------------------------------------------------ lifecycle: the poller

    @Override
    public void start() {
        // On boundedElastic: a tick may be the first user of a Redis connection, whose connect waits (never an event loop).
        poller = Flux.interval(pollInterval, pollInterval, Schedulers.boundedElastic()).onBackpressureDrop()
                .concatMap(tick -> Flux.fromIterable(List.copyOf(dates.asMap().values()))
                        .filter(d -> nanos.getAsLong() - d.lastRead < HOT_SECONDS * 1_000_000_000L)
                        .flatMap(d -> {
                            submitExpiries(d);
                            return sync(d).onErrorResume(e -> Mono.empty());
                        }, 16)
                        .then(), 0)
                .subscribe();
    }

    @Override
    public void stop() {
        Disposable p = poller;
        if (p != null) {
            p.dispose();
        }
    }

    @Override
    public boolean isRunning() {
        Disposable p = poller;
        return p != null && !p.isDisposed();
    }

    // ------------------------------------------------------------------ reading

    /** A date's seats, current within max-stale; empty when the date does not exist. */
    Mono<DateSeats> date(long concertDateId) {
        return Mono.defer(() -> {
            DateSeats held = dates.getIfPresent(concertDateId);
            if (held == null) {
                return Mono.fromFuture(load(concertDateId), true);
            }
            held.lastRead = nanos.getAsLong();
            if (held.lastRead - held.syncedAt <= maxStale) {
                return Mono.just(held);
            }
            return sync(held).onErrorResume(e -> Mono.empty())
                    .then(Mono.fromSupplier(() -> dates.getIfPresent(concertDateId)))
                    .switchIfEmpty(Mono.defer(() -> Mono.fromFuture(load(concertDateId), true)));
        });
    }

    /** The one in-flight load of a date: the log's version, then the seats, then the log entries after that version. */
    private CompletableFuture<DateSeats> load(long concertDateId) {
        CompletableFuture<DateSeats> mine = new CompletableFuture<>();
        CompletableFuture<DateSeats> running = loading.putIfAbsent(concertDateId, mine);
        if (running != null) {
            return running;
        }
        long started = nanos.getAsLong();
        Mono<Long> version = redis.execute(APPEND, keys(concertDateId),
                        List.of(Long.toString(clock.millis()), Integer.toString(REDIS_KEEP), Long.toString(KEY_TTL.toSeconds())))
                .next().timeout(REDIS_TIMEOUT).map(Long::parseLong)
                .onErrorResume(e -> {
                    log.debug("seat change log of date {} unreachable, loading unversioned: {}", concertDateId, e.toString());
                    return Mono.just(0L);
                });
        version.flatMap(v -> store.date(concertDateId).flatMap(date -> store.seatStates(concertDateId).collectList()
                                .publishOn(Schedulers.parallel())
                                .map(rows -> new DateSeats(concertDateId, date.concertId(), rows, v, started))))
                .flatMap(d -> d.version == 0 ? Mono.just(d) : pull(d, false).thenReturn(d).onErrorResume(e -> Mono.just(d)))
                .timeout(Duration.ofSeconds(10))
                .toFuture()
                .whenComplete((d, error) -> {
                    if (d != null) {
                        d.lastRead = nanos.getAsLong();
                        // A reload may bring changes the old state missed; a first load is no change to anyone.
                        if (dates.asMap().put(concertDateId, d) != null) {
                            onChange.accept(concertDateId);
                        }
                    }
                    loading.remove(concertDateId, mine);
                    if (error != null) {
                        mine.completeExceptionally(error);
                    } else {
                        mine.complete(d);
                    }
                });
        return mine;
    }

    /**
     * Brings a date up to the log's version. Loads it again when the log cannot (too far behind, counter lost), and,
     * once it is max-stale old, when Redis does not answer or the state is unversioned (loaded while Redis was away).
     */
    private Mono<Void> sync(DateSeats d) {
        Mono<Void> reload = Mono.fromFuture(() -> load(d.concertDateId), true).then();
        if (d.version() == 0) {
            return nanos.getAsLong() - d.syncedAt > maxStale ? reload : Mono.empty();
        }
        return pull(d, true).onErrorResume(e -> e instanceof LogGap || nanos.getAsLong() - d.syncedAt > maxStale ? reload : Mono.empty());
    }

    /** The log does not continue a state's version: only a fresh load can. */
    private static final class LogGap extends RuntimeException {
        LogGap(String message) {
            super(message, null, false, false);
        }
    }

    @SuppressWarnings("unchecked")
    private Mono<Void> pull(DateSeats d, boolean notify) {
        long after = d.version();
        long started = nanos.getAsLong();
        return redis.execute(READ, keys(d.concertDateId), List.of(Long.toString(after), Integer.toString(PULL_LIMIT)))
                .next().timeout(REDIS_TIMEOUT)
                .flatMap(raw -> {
                    List<Object> answer = (List<Object>) raw;
                    long top = Long.parseLong(answer.get(0).toString());
                    List<String> entries = new ArrayList<>(answer.size() - 1);
                    for (int i = 1; i < answer.size(); i++) {
                        entries.add(answer.get(i).toString());
                    }
                    Boolean applied = d.apply(top, entries, started);
                    if (applied == null) {
                        return Mono.error(new LogGap("seat change log of date " + d.concertDateId + " cannot continue version " + after));
                    }
                    if (applied && notify) {
                        onChange.accept(d.concertDateId);
                    }
                    return entries.size() == PULL_LIMIT ? pull(d, notify) : Mono.<Void>empty();
                });
    }

    // ------------------------------------------------------------------ writing (from the seat owner's events)

    /** The seat owner's committed changes: appended to the date's log, then pulled back by every instance. */
    void submit(SeatsChanged event) {
        List<String> entries = new ArrayList<>(event.changes().size());
        for (SeatsChanged.Change c : event.changes()) {
            byte state = switch (c.state()) {
                case FREE -> FREE;
                case HELD -> HELD;
                case SOLD -> SOLD;
            };
            entries.add(entry(c.seatNumber(), c.order(), state, c.heldUntil() == null ? 0 : c.heldUntil().toEpochMilli(), c.reservationId()));
        }
        submit(event.concertDateId(), entries);
    }

    static String entry(int seatNumber, long order, byte state, long heldUntilMillis, long reservationId) {
        return seatNumber + "|" + order + "|" + state + "|" + heldUntilMillis + "|" + reservationId;
    }

    private void submit(long concertDateId, Collection<String> entries) {
        pending.computeIfAbsent(concertDateId, id -> new ConcurrentLinkedQueue<>()).addAll(entries);
        flush(concertDateId);
    }

    /** One append per date at a time: changes that arrive meanwhile go into the next one (coalesced, no fixed delay). */
    private void flush(long concertDateId) {
        Queue<String> queue = pending.get(concertDateId);
        if (queue == null || queue.isEmpty() || !appending.add(concertDateId)) {
            return;
        }
        List<String> batch = new ArrayList<>();
        for (String e; batch.size() < 2_000 && (e = queue.poll()) != null; ) {
            batch.add(e);
        }
        List<String> args = new ArrayList<>(batch.size() + 3);
        args.add(Long.toString(clock.millis()));
        args.add(Integer.toString(REDIS_KEEP));
        args.add(Long.toString(KEY_TTL.toSeconds()));
        args.addAll(batch);
        redis.execute(APPEND, keys(concertDateId), args).next().timeout(REDIS_TIMEOUT)
                .subscribe(v -> {
                    appending.remove(concertDateId);
                    DateSeats d = dates.getIfPresent(concertDateId);
                    if (d != null) {
                        pull(d, true).onErrorResume(e -> Mono.empty()).subscribe();
                    }
                    flush(concertDateId);
                }, error -> {
                    // Kept for the next attempt (their order makes a late append harmless); readers meanwhile fall back
                    // to the database once the date is max-stale old.
                    queue.addAll(batch);
                    appending.remove(concertDateId);
                    log.debug("appending {} seat changes of date {} failed, retrying: {}", batch.size(), concertDateId, error.toString());
                    Mono.delay(Duration.ofSeconds(1), Schedulers.boundedElastic()).subscribe(t -> flush(concertDateId));
                });
    }

    /** Holds of this date that ran out by now: their end is a change like any other (announced once per instance). */
    private void submitExpiries(DateSeats d) {
        List<String> due = d.dueExpiries(clock.millis());
        if (!due.isEmpty()) {
            submit(d.concertDateId, due);
        }
    }

    // ------------------------------------------------------------------ one date

    /** A date's layout (immutable) and seat states (guarded by this object's monitor). Seat n is index n - 1. */
    static final class DateSeats {
        final long concertDateId;
        final long concertId;
        final int size;
        final long[] seatIds;
        final String[] grades;
        final long[] prices;
        final byte[] layoutJson;
        final String layoutEtag;
        private final byte[] state;
        private final long[] heldUntil;
        private final long[] reservation;
        private final BitSet expirySent;
        private long version;
        /** Versions above this are in the local log (deltas can be answered from it). */
        private long logFloor;
        private final long[] logVersion = new long[LOCAL_LOG];
        private final int[] logSeat = new int[LOCAL_LOG];
        private final boolean[] logFree = new boolean[LOCAL_LOG];
        private long logged;
        volatile long syncedAt;
        volatile long lastRead;
        private long fullVersion = -1;
        private byte[] fullJson;

        DateSeats(long concertDateId, long concertId, List<CatalogStore.SeatState> rows, long version, long syncedAt) {
            this.concertDateId = concertDateId;
            this.concertId = concertId;
            int max = 0;
            for (CatalogStore.SeatState s : rows) {
                max = Math.max(max, s.seatNumber());
            }
            this.size = max;
            this.seatIds = new long[max];
            this.grades = new String[max];
            this.prices = new long[max];
            this.state = new byte[max];
            this.heldUntil = new long[max];
            this.reservation = new long[max];
            this.expirySent = new BitSet(max);
            Map<String, String> interned = new LinkedHashMap<>();
            for (CatalogStore.SeatState s : rows) {
                int i = s.seatNumber() - 1;
                if (i < 0) {
                    continue;
                }
                seatIds[i] = s.seatId();
                grades[i] = interned.computeIfAbsent(s.grade(), g -> g);
                prices[i] = s.price();
                reservation[i] = s.reservationId();
                switch (s.status()) {
                    case "HELD" -> {
                        state[i] = HELD;
                        heldUntil[i] = s.heldUntil() == null ? 0 : s.heldUntil().toEpochMilli();
                    }
                    case "SOLD" -> state[i] = SOLD;
                    default -> state[i] = FREE;
                }
            }
            this.layoutJson = layout();
            CRC32 crc = new CRC32();
            crc.update(layoutJson);
            this.layoutEtag = "\"L" + concertDateId + "-" + Long.toHexString(crc.getValue()) + "-" + layoutJson.length + "\"";
            this.version = version;
            this.logFloor = version;
            this.syncedAt = syncedAt;
        }

        int weight() {
            return size * 42 + layoutJson.length + LOCAL_LOG * 13 + 256;
        }

        /**
         * The layout: runs of consecutive seat numbers of one grade and price ({@code [first, last, gradeIndex, price]}),
         * compact for a 50,000-seat stadium, whose seats come in blocks.
         */
        private byte[] layout() {
            List<String> gradeList = new ArrayList<>();
            StringBuilder blocks = new StringBuilder();
            int i = 0;
            while (i < size) {
                if (grades[i] == null) {
                    i++;
                    continue;
                }
                int j = i;
                while (j + 1 < size && grades[i].equals(grades[j + 1]) && prices[i] == prices[j + 1]) {
                    j++;
                }
                int g = gradeList.indexOf(grades[i]);
                if (g < 0) {
                    gradeList.add(grades[i]);
                    g = gradeList.size() - 1;
                }
                blocks.append(blocks.isEmpty() ? "" : ",").append('[').append(i + 1).append(',').append(j + 1).append(',').append(g)
                        .append(',').append(prices[i]).append(']');
                i = j + 1;
            }
            StringBuilder out = new StringBuilder("{\"concertDateId\":").append(concertDateId).append(",\"concertId\":").append(concertId)
                    .append(",\"seatCount\":").append(size).append(",\"grades\":[");
            for (int g = 0; g < gradeList.size(); g++) {
                // Grades are [A-Za-z0-9_-]{1,20} (the admin API's rule): nothing to escape.
                out.append(g == 0 ? "" : ",").append('"').append(gradeList.get(g)).append('"');
            }
            out.append("],\"blocks\":[").append(blocks).append("]}");
            return out.toString().getBytes(StandardCharsets.UTF_8);
        }

        synchronized long version() {
            return version;
        }

        /**
         * Applies log entries after this state's version. @return true when seats changed, false when nothing was
         * new, null when the entries do not continue this version (trimmed log, lost counter): load again.
         */
        synchronized Boolean apply(long top, List<String> entries, long pulledAt) {
            if (top < version) {
                return null;
            }
            if (entries.isEmpty()) {
                if (top != version) {
                    return null;
                }
                syncedAt = pulledAt;
                return false;
            }
            boolean changed = false;
            for (String e : entries) {
                String[] f = e.split("\\|");
                long v = Long.parseLong(f[0]);
                if (v <= version) {
                    continue;
                }
                if (v != version + 1) {
                    return null;
                }
                int i = Integer.parseInt(f[1]) - 1;
                version = v;
                if (i < 0 || i >= size) {
                    continue;
                }
                state[i] = Byte.parseByte(f[2]);
                heldUntil[i] = Long.parseLong(f[3]);
                reservation[i] = Long.parseLong(f[4]);
                expirySent.clear(i);
                int slot = (int) (logged++ % LOCAL_LOG);
                logVersion[slot] = v;
                logSeat[slot] = i + 1;
                logFree[slot] = state[i] == FREE;
                if (logged > LOCAL_LOG) {
                    logFloor = logVersion[(int) (logged % LOCAL_LOG)] - 1;
                }
                changed = true;
            }
            syncedAt = pulledAt;
            return changed;
        }

        synchronized List<String> dueExpiries(long nowMillis) {
            List<String> due = new ArrayList<>();
            for (int i = 0; i < size; i++) {
                if (state[i] == HELD && heldUntil[i] <= nowMillis && !expirySent.get(i)) {
                    expirySent.set(i);
                    due.add(entry(i + 1, new SeatsChanged.Change(i + 1, SeatsChanged.State.FREE, reservation[i], null).order(), FREE, 0,
                            reservation[i]));
                }
            }
            return due;
        }

        /** {"concertDateId","version","seatCount","free"}: free is the base64 bit set, bit n-1 (LSB first) set when seat n is free. */
        synchronized byte[] full() {
            if (fullVersion == version && version != 0 && fullJson != null) {
                return fullJson;
            }
            byte[] bits = new byte[(size + 7) / 8];
            for (int i = 0; i < size; i++) {
                if (state[i] == FREE && seatIds[i] != 0) {
                    bits[i >> 3] |= (byte) (1 << (i & 7));
                }
            }
            fullJson = ("{\"concertDateId\":" + concertDateId + ",\"version\":" + version + ",\"seatCount\":" + size + ",\"free\":\""
                    + Base64.getEncoder().encodeToString(bits) + "\"}").getBytes(StandardCharsets.US_ASCII);
            fullVersion = version;
            return fullJson;
        }

        /**
         * {"concertDateId","version","changes":[[seatNumber, 1 or 0], ...]} of the seats whose freedom changed after
         * {@code since} (latest state each, in seat order); null when that cannot be told from here (too old, from
         * the future of this instance, unversioned) or when the full document would be smaller.
         */
        synchronized byte[] delta(long since) {
            if (version == 0 || since > version || since < logFloor) {
                return null;
            }
            Map<Integer, Boolean> latest = new java.util.TreeMap<>();
            for (long k = logged - 1; k >= 0 && k >= logged - LOCAL_LOG; k--) {
                int slot = (int) (k % LOCAL_LOG);
                if (logVersion[slot] <= since) {
                    break;
                }
                latest.putIfAbsent(logSeat[slot], logFree[slot]);
            }
            StringBuilder out = new StringBuilder("{\"concertDateId\":").append(concertDateId).append(",\"version\":").append(version)
                    .append(",\"changes\":[");
            boolean first = true;
            for (Map.Entry<Integer, Boolean> e : latest.entrySet()) {
                out.append(first ? "" : ",").append('[').append(e.getKey()).append(',').append(e.getValue() ? 1 : 0).append(']');
                first = false;
            }
            out.append("]}");
            if (out.length() > (size + 7) / 8 * 4 / 3 + 100) {
                return null;
            }
            return out.toString().getBytes(StandardCharsets.US_ASCII);
        }

        /** The seats as the JSON seat list shows them at {@code nowMillis} (a hold that ran out shows AVAILABLE). */
        synchronized List<CatalogController.SeatView> views(long nowMillis, boolean onlyFree, String grade) {
            List<CatalogController.SeatView> out = new ArrayList<>(size);
            for (int i = 0; i < size; i++) {
                if (seatIds[i] == 0 || (grade != null && !grade.equals(grades[i]))) {
                    continue;
                }
                boolean free = state[i] == FREE || (state[i] == HELD && heldUntil[i] <= nowMillis);
                if (onlyFree && !free) {
                    continue;
                }
                out.add(new CatalogController.SeatView(seatIds[i], i + 1, grades[i], prices[i],
                        free ? "AVAILABLE" : state[i] == HELD ? "HELD" : "SOLD"));
            }
            return out;
        }
    }

    /** Test hook: the date's state if this instance holds it. */
    DateSeats peek(long concertDateId) {
        return dates.getIfPresent(concertDateId);
    }

    /** Test hook: when the state is used as of an instant. */
    Instant now() {
        return clock.instant();
    }
}
