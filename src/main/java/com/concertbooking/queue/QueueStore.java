package com.concertbooking.queue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import com.concertbooking.support.LuaScript;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.io.ClassPathResource;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * All queue state in Redis. Every key of concert {@code c} carries the hash tag {@code {concert:c}}, so one concert's
 * queue lives in one Redis Cluster slot, every script touches the keys of one concert only, and no key is global:
 * <pre>
 *   queue:{concert:c}:wait     ZSET user -> arrival sequence   position = ZRANK + 1
 *   queue:{concert:c}:active   ZSET user -> expiry (ms)        count = ZCARD, expiry sweep by score
 *   queue:{concert:c}:seen     ZSET user -> last presence (ms) idle sweep by score (waiting users only)
 *   queue:{concert:c}:entry    HASH user -> entry id           the live entry a token must name
 *   queue:{concert:c}:seq      arrival counter
 *   queue:{concert:c}:stats    HASH admitted total, observed rate;  queue:{concert:c}:hist  LIST of rate samples
 *   queue:{concert:c}:tick     last admission slot claimed
 *   queue:{concert:c}:policy   HASH cached copy of the queue_policy row (v = its version); the database is the truth
 *   queue:{concert:c}:streams:{entry}  ZSET stream id -> lease end (ms): open SSE streams of one entry
 *   queue:{concert:c}:events   shard channel (SPUBLISH from the scripts): admissions and position changes
 * </pre>
 * Every mutation is one Lua script (loaded once, run by SHA); every request-path call is O(log N) per user.
 * Time inside scripts is Redis TIME, so instances never disagree about expiry or slots.
 * <p>Which concerts have a queue is not stored in Redis (a set of them would be a global key): a waiting fan must
 * poll or stream to keep a place, so the queue's own requests tell each instance which queues are live
 * ({@link #concerts()}); a concert leaves that set when a tick finds its queue empty.
 */
@Component
class QueueStore {

    private static final Logger log = LoggerFactory.getLogger(QueueStore.class);
    static final Duration TIMEOUT = Duration.ofSeconds(2);

    /**
     * A call that outlived {@link #TIMEOUT} fails as a Redis command timeout (not Reactor's bare TimeoutException): the
     * answer is the same 503, and the failure is counted as Redis's in booking.dependency.unavailable (the alerts).
     */
    private static <T> Mono<T> timedOut() {
        return Mono.error(() -> new io.lettuce.core.RedisCommandTimeoutException("Redis did not answer within " + TIMEOUT.toMillis() + " ms"));
    }
    /** Expired actives and idle waiters removed per admission step at most. */
    private static final int SWEEP_LIMIT = 1000;
    /** Front entries one admission step examines at most (idle ones are dropped, not admitted). */
    private static final int FRONT_BUDGET = 10_000;
    /** Admissions larger than this are announced without their entry ids (streams then look their state up). */
    static final int MAX_IDS_PER_MESSAGE = 1000;
    private static final long GONE = Long.MIN_VALUE;

    @SuppressWarnings("rawtypes")
    private static final RedisScript<List> JOIN = script("join"), STATUS = script("status"), ADMIT = script("admit"),
            VIEW = script("view"), STREAM_OPEN = script("stream-open");
    private static final RedisScript<Long> LEAVE = new LuaScript<>(source("leave"), Long.class),
            POLICY = new LuaScript<>(source("policy"), Long.class), STREAM_RENEW = new LuaScript<>(source("stream-renew"), Long.class);

    private final ReactiveStringRedisTemplate redis;
    private final QueuePolicies policies;
    private final QueueProperties defaults;
    /** Concerts with queue traffic on this instance -> last touch (nanoTime), or GONE once forgotten. */
    private final Map<Long, AtomicLong> live = new ConcurrentHashMap<>();
    private final Map<Long, Mono<Void>> restoring = new ConcurrentHashMap<>();
    private volatile long lastRestoreFailureLog;

    public QueueStore(ReactiveStringRedisTemplate redis, QueuePolicies policies, QueueProperties properties) {
        this.redis = redis;
        this.policies = policies;
        this.defaults = properties;
    }

    @SuppressWarnings("rawtypes")
    private static RedisScript<List> script(String name) {
        return new LuaScript<>(source(name), List.class);
    }

    /** Read once at class load (a resource-backed script would read the file lazily, on an event loop). */
    private static String source(String name) {
        try (var in = new ClassPathResource("queue/" + name + ".lua").getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("missing Lua script " + name, e);
        }
    }

    static String key(long concertId, String part) {
        return "queue:{concert:" + concertId + "}:" + part;
    }

    /** The shard channel the scripts publish a concert's admissions and position changes on. */
    static String channel(long concertId) {
        return key(concertId, "events");
    }

    static String streamsKey(long concertId, String entryId) {
        return key(concertId, "streams:" + entryId);
    }

    public enum Kind { WAITING, ACTIVE, GONE }

    /** One entry's state: position when waiting, expiry when active. */
    public record EntryState(Kind kind, long position, Instant activeUntil) {
        static final EntryState GONE = new EntryState(Kind.GONE, 0, null);
    }

    /** States of a batch plus what the wait estimate needs. */
    public record Batch(double observedRate, int admitPerTick, List<EntryState> states) {}

    public record Joined(EntryState state, String entryId, boolean created, double observedRate, int admitPerTick) {}

    public record Member(long userId, String entryId) {}

    /** One open SSE stream of an entry, for the per-token limit. */
    public record Stream(String entryId, String streamId) {}

    public record TickResult(long concertId, int admitted, long slot, int expired, int dropped, long waiting, long active,
                             int admitPerTick, int maxActive, long waitTimeoutMs, double observedRate, List<Long> admittedUsers) {}

    public record View(long waiting, long active, int admitPerTick, int maxActive, long activeTtlMs, long waitTimeoutMs,
                       long admittedTotal, double observedRate) {}

    public Mono<Joined> join(long concertId, long userId, String freshEntryId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), key(concertId, "seq"), key(concertId, "policy"), key(concertId, "stats"), channel(concertId));
        return run(JOIN, keys, List.of(Long.toString(userId), freshEntryId, Long.toString(defaults.waitingTimeout().toMillis()),
                Integer.toString(defaults.admitPerTick())))
                .map(r -> {
                    touch(concertId); // after the script: see forget()
                    policyCached(concertId, r.get(6));
                    String status = str(r.get(0));
                    String entry = str(r.get(1));
                    EntryState state = status.equals("ACTIVE")
                            ? new EntryState(Kind.ACTIVE, 0, Instant.ofEpochMilli(num(r.get(2))))
                            : new EntryState(Kind.WAITING, num(r.get(2)), null);
                    return new Joined(state, entry, str(r.get(3)).equals("1"), Double.parseDouble(str(r.get(4))), (int) num(r.get(5)));
                });
    }

    /** States of many entries of one concert in one round trip; touching counts as presence for waiting ones. */
    public Mono<Batch> states(long concertId, List<Member> members, boolean touch) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), key(concertId, "stats"), key(concertId, "policy"), channel(concertId));
        List<String> args = new ArrayList<>(3 + members.size() * 2);
        args.add(Integer.toString(defaults.admitPerTick()));
        args.add(Long.toString(defaults.waitingTimeout().toMillis()));
        args.add(touch ? "1" : "0");
        for (Member m : members) {
            args.add(Long.toString(m.userId()));
            args.add(m.entryId());
        }
        return run(STATUS, keys, args).map(r -> {
            policyCached(concertId, r.get(2));
            List<EntryState> states = new ArrayList<>(members.size());
            boolean anyLive = false;
            for (int i = 3; i + 1 < r.size(); i += 2) {
                EntryState state = switch (str(r.get(i))) {
                    case "W" -> new EntryState(Kind.WAITING, num(r.get(i + 1)), null);
                    case "A" -> new EntryState(Kind.ACTIVE, 0, Instant.ofEpochMilli(num(r.get(i + 1))));
                    default -> EntryState.GONE;
                };
                anyLive |= state.kind() != Kind.GONE;
                states.add(state);
            }
            if (anyLive) {
                touch(concertId);
            }
            return new Batch(Double.parseDouble(str(r.get(0))), (int) num(r.get(1)), states);
        });
    }

    public Mono<Boolean> leave(long concertId, long userId, String entryId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), channel(concertId));
        return redis.execute(LEAVE, keys, List.of(Long.toString(userId), entryId))
                .next().timeout(TIMEOUT, timedOut()).map(n -> n == 1L);
    }

    /** One scheduler tick for a concert: at most one caller per slot admits, across all instances. */
    public Mono<TickResult> tick(long concertId) {
        AtomicLong touched = live.get(concertId);
        long observed = touched == null ? GONE : touched.get();
        return admitStep(concertId, "tick", 0).doOnNext(r -> {
            if (r.waiting() == 0 && r.active() == 0) {
                forget(concertId, observed);
            }
        });
    }

    /** Operator admission: up to {@code count} now, within the cap, outside the tick slots. */
    public Mono<TickResult> admitNow(long concertId, int count) {
        return admitStep(concertId, "admit", count);
    }

    private Mono<TickResult> admitStep(long concertId, String mode, int count) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), key(concertId, "stats"), key(concertId, "hist"), key(concertId, "tick"),
                key(concertId, "policy"), channel(concertId));
        List<String> args = List.of(mode, Long.toString(Math.max(1, defaults.tick().toMillis())), Integer.toString(count),
                Integer.toString(defaults.admitPerTick()), Integer.toString(defaults.maxActive()),
                Long.toString(defaults.activeTtl().toMillis()), Long.toString(defaults.waitingTimeout().toMillis()),
                Integer.toString(SWEEP_LIMIT), Integer.toString(FRONT_BUDGET), Integer.toString(MAX_IDS_PER_MESSAGE));
        return withPolicy(concertId, () -> run(ADMIT, keys, args)).map(r -> {
            List<Long> ids = new ArrayList<>();
            for (int i = 10; i < r.size(); i++) {
                ids.add(num(r.get(i)));
            }
            return new TickResult(concertId, (int) num(r.get(0)), num(r.get(1)), (int) num(r.get(2)), (int) num(r.get(3)),
                    num(r.get(4)), num(r.get(5)), (int) num(r.get(6)), (int) num(r.get(7)), num(r.get(8)),
                    Double.parseDouble(str(r.get(9))), ids);
        });
    }

    public Mono<View> view(long concertId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "stats"), key(concertId, "policy"));
        List<String> args = List.of(Integer.toString(defaults.admitPerTick()), Integer.toString(defaults.maxActive()),
                Long.toString(defaults.activeTtl().toMillis()), Long.toString(defaults.waitingTimeout().toMillis()));
        return withPolicy(concertId, () -> run(VIEW, keys, args)).map(r -> new View(num(r.get(0)), num(r.get(1)), (int) num(r.get(2)),
                (int) num(r.get(3)), num(r.get(4)), num(r.get(5)), num(r.get(6)), Double.parseDouble(str(r.get(7)))));
    }

    /** The entry id of the first in line, if anyone waits (two reads, for the operator's display only). */
    public Mono<String> frontEntry(long concertId) {
        return redis.opsForZSet().range(key(concertId, "wait"), org.springframework.data.domain.Range.closed(0L, 0L)).next()
                .flatMap(user -> redis.<String, String>opsForHash().get(key(concertId, "entry"), user))
                .timeout(TIMEOUT, timedOut());
    }

    /**
     * An operator's change: stored in the database first (the truth, SPEC 4.12), then cached in Redis. If the cache
     * write fails the call fails too; the policy sync ({@link #syncPolicies}) brings the cache level within seconds.
     */
    Mono<Void> setPolicy(long concertId, int admitPerTick, int maxActive, Long activeTtlMs, Long waitTimeoutMs) {
        return policies.save(concertId, admitPerTick, maxActive, activeTtlMs, waitTimeoutMs).flatMap(this::cache).then();
    }

    /**
     * Brings the cached policies of these concerts up to the database's versions. Covers a cache write that failed,
     * and a Redis that came back from its append-only file a second behind (with an older copy than the database).
     */
    Mono<Void> syncPolicies(Set<Long> concertIds) {
        return policies.loadAll(concertIds).flatMap(this::cache, 4).then();
    }

    /** Runs a script that needs the policy; when Redis has no copy, restores it from the database and runs it again. */
    @SuppressWarnings("rawtypes")
    private Mono<List> withPolicy(long concertId, java.util.function.Supplier<Mono<List>> call) {
        return call.get().flatMap(r -> isNoPolicy(r) ? restore(concertId).then(Mono.defer(call)) : Mono.just(r))
                .flatMap(r -> isNoPolicy(r)
                        ? Mono.error(new IllegalStateException("queue policy of concert " + concertId + " could not be cached"))
                        : Mono.just(r));
    }

    @SuppressWarnings("rawtypes")
    private static boolean isNoPolicy(List r) {
        return !r.isEmpty() && !(r.get(0) instanceof Number) && "NOPOLICY".equals(str(r.get(0)));
    }

    /** The database's policy into the cache; concurrent restores of one concert share one database read. */
    private Mono<Void> restore(long concertId) {
        return restoring.computeIfAbsent(concertId, id -> policies.load(id).flatMap(this::cache).then()
                .doFinally(s -> restoring.remove(id)).cache());
    }

    private void policyCached(long concertId, Object flag) {
        if ("0".equals(str(flag))) {
            // Only the scripts that must not guess (admission, the operator view) wait for it; here it refills in the background.
            restore(concertId).subscribe(null, e -> {
                long now = System.currentTimeMillis();
                if (now - lastRestoreFailureLog > 10_000) { // a database outage would fail every call: log now and then
                    lastRestoreFailureLog = now;
                    log.warn("restoring the queue policy of concert {} failed: {}", concertId, e.toString());
                }
            });
        }
    }

    private Mono<Long> cache(QueuePolicies.Policy p) {
        List<String> args = new ArrayList<>(9);
        args.add(Long.toString(p.version()));
        if (p.admitPerTick() != null) {
            args.add("admitPerTick");
            args.add(p.admitPerTick().toString());
        }
        if (p.maxActive() != null) {
            args.add("maxActive");
            args.add(p.maxActive().toString());
        }
        if (p.activeTtlMs() != null) {
            args.add("activeTtlMs");
            args.add(p.activeTtlMs().toString());
        }
        if (p.waitTimeoutMs() != null) {
            args.add("waitTimeoutMs");
            args.add(p.waitTimeoutMs().toString());
        }
        return redis.execute(POLICY, List.of(key(p.concertId(), "policy"), channel(p.concertId())), args).next().timeout(TIMEOUT, timedOut());
    }

    /**
     * Opens a stream of an entry if fewer than {@code max} are open across all instances; empty when opened,
     * otherwise the time until the oldest open stream's lease ends.
     */
    Mono<Duration> openStream(long concertId, Stream stream, int max, Duration lease) {
        return run(STREAM_OPEN, List.of(streamsKey(concertId, stream.entryId())),
                List.of(stream.streamId(), Integer.toString(max), Long.toString(lease.toMillis())))
                .flatMap(r -> num(r.get(0)) == 1 ? Mono.empty() : Mono.just(Duration.ofMillis(Math.max(0, num(r.get(1))))));
    }

    Mono<Void> closeStream(long concertId, Stream stream) {
        return redis.opsForZSet().remove(streamsKey(concertId, stream.entryId()), stream.streamId()).timeout(TIMEOUT, timedOut()).then();
    }

    /** Renews the leases of open streams of one concert (one call, all keys in the concert's slot). */
    Mono<Void> renewStreams(long concertId, List<Stream> streams, Duration lease) {
        List<String> keys = new ArrayList<>(streams.size());
        List<String> args = new ArrayList<>(streams.size() + 1);
        args.add(Long.toString(lease.toMillis()));
        for (Stream s : streams) {
            keys.add(streamsKey(concertId, s.entryId()));
            args.add(s.streamId());
        }
        return redis.execute(STREAM_RENEW, keys, args).next().timeout(TIMEOUT, timedOut()).then();
    }

    /** Concerts with queue traffic on this instance: the ones its scheduler visits. */
    public Flux<Long> concerts() {
        return Flux.fromIterable(List.copyOf(live.keySet()));
    }

    /** Marks a concert live; called after the script that saw the traffic answered. */
    private void touch(long concertId) {
        long now = System.nanoTime();
        while (true) {
            AtomicLong h = live.computeIfAbsent(concertId, id -> new AtomicLong(now));
            long cur = h.get();
            if (cur == GONE) {
                live.remove(concertId, h); // forgotten meanwhile: put a fresh one
            } else if (cur == now || h.compareAndSet(cur, now)) {
                return;
            }
        }
    }

    /**
     * Stops visiting a concert whose queue a tick found empty, unless traffic touched it since the tick began: a
     * join racing the tick either changed the stamp (the compare-and-set fails) or comes after and re-adds it.
     */
    private void forget(long concertId, long observed) {
        AtomicLong h = live.get(concertId);
        if (h != null && observed != GONE && h.compareAndSet(observed, GONE)) {
            live.remove(concertId, h);
        }
    }

    @SuppressWarnings("rawtypes")
    private Mono<List> run(RedisScript<List> script, List<String> keys, List<String> args) {
        return redis.execute(script, keys, args).next().timeout(TIMEOUT, timedOut());
    }

    private static String str(Object o) {
        return o instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(o);
    }

    private static long num(Object o) {
        if (o instanceof Number n) {
            return n.longValue();
        }
        String s = str(o);
        return s.indexOf('.') >= 0 || s.indexOf('e') >= 0 ? (long) Double.parseDouble(s) : Long.parseLong(s);
    }
}
