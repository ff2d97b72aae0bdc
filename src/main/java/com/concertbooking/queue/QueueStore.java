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
 *   queue:{concert:c}:cohort   ZSET digest..user, all scores 0  a scheduled sale's pre-queue in draw order; rank + 1
 *   queue:{concert:c}:wait     ZSET user -> arrival sequence   position = ZCARD cohort + ZRANK + 1
 *   queue:{concert:c}:active   ZSET user -> expiry (ms)        count = ZCARD, expiry sweep by score
 *   queue:{concert:c}:seen     ZSET user -> last presence (ms) idle sweep by score (waiting users only)
 *   queue:{concert:c}:entry    HASH user -> entry id           the live entry a token must name ("id|digest" in the cohort)
 *   queue:{concert:c}:seq      arrival counter
 *   queue:{concert:c}:stats    HASH admitted total, sold-out flag
 *   queue:{concert:c}:tick     last admission slot claimed
 *   queue:{concert:c}:policy   HASH cached copy of the queue_policy row (v = its version, msg = the operator's message)
 *   queue:{concert:c}:sale     HASH cached sale schedule (v = its version, 0: none; pre, opens; size once opened)
 *   queue:{concert:c}:streams:{entry}  ZSET stream id -> lease end (ms): open SSE streams of one entry
 *   queue:{concert:c}:events   shard channel (SPUBLISH from the scripts): admissions and position changes
 * </pre>
 * The database is the truth for the policy and the schedule; Redis caches them. Every mutation is one Lua script
 * (loaded once, run by SHA); every request-path call is O(log N) per user.
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
            VIEW = script("view"), STREAM_OPEN = script("stream-open"), LOOKUP = script("lookup");
    private static final RedisScript<Long> LEAVE = new LuaScript<>(source("leave"), Long.class),
            POLICY = new LuaScript<>(source("policy"), Long.class), STREAM_RENEW = new LuaScript<>(source("stream-renew"), Long.class),
            SALE = new LuaScript<>(source("sale"), Long.class), CLOCK = new LuaScript<>(source("clock"), Long.class);

    private final ReactiveStringRedisTemplate redis;
    private final QueuePolicies policies;
    private final Sales sales;
    private final QueueProperties defaults;
    /** Concerts with queue traffic on this instance -> last touch (nanoTime), or GONE once forgotten. */
    private final Map<Long, AtomicLong> live = new ConcurrentHashMap<>();
    private final Map<Long, Mono<Void>> restoring = new ConcurrentHashMap<>();
    private final Map<Long, Mono<Void>> restoringSales = new ConcurrentHashMap<>();
    private volatile long lastRestoreFailureLog;

    public QueueStore(ReactiveStringRedisTemplate redis, QueuePolicies policies, Sales sales, QueueProperties properties) {
        this.redis = redis;
        this.policies = policies;
        this.sales = sales;
        this.defaults = properties;
    }

    @SuppressWarnings("rawtypes")
    private static RedisScript<List> script(String name) {
        return new LuaScript<>(source(name), List.class);
    }

    /**
     * Read once at class load (a resource-backed script would read the file lazily, on an event loop), with the
     * shared helpers of {@code lib.lua} in front.
     */
    private static String source(String name) {
        return read("lib") + "\n" + read(name);
    }

    private static String read(String name) {
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

    public enum Kind { PREQUEUE, WAITING, ACTIVE, GONE }

    /** One entry's state: position when waiting, expiry when active (a pre-queue member has neither). */
    public record EntryState(Kind kind, long position, Instant activeUntil) {
        static final EntryState GONE = new EntryState(Kind.GONE, 0, null);
        static final EntryState PREQUEUE = new EntryState(Kind.PREQUEUE, 0, null);
    }

    /**
     * What every answer about a concert's queue carries besides the entries: whether its front moves, the Redis time
     * of the answer, the sale's opening (null without a schedule), the operator's message (null: none) and whether
     * nothing is left to buy.
     */
    public record Conditions(int admitPerTick, int maxActive, long active, Instant serverTime, Instant opensAt,
                             String message, boolean soldOut) {
        Admission admission() {
            return Admission.of(admitPerTick, maxActive, active, soldOut);
        }
    }

    /** States of a batch with their concert's conditions. */
    public record Batch(Conditions conditions, List<EntryState> states) {}

    /** What a join answered: a place, or a refusal that wrote nothing. */
    public sealed interface JoinOutcome permits Joined, NotOpen, NeedSeed, SoldOut {}

    public record Joined(EntryState state, String entryId, boolean created, Conditions conditions) implements JoinOutcome {}

    /** Before the pre-queue opens (by Redis time {@code now}). */
    public record NotOpen(Instant now, Instant prequeueOpensAt, Instant opensAt) implements JoinOutcome {}

    /** The pre-queue is open but the caller passed no digest: it must load (or draw) the seed and ask again. */
    public record NeedSeed() implements JoinOutcome {}

    public record SoldOut() implements JoinOutcome {}

    public record Member(long userId, String entryId) {}

    /** One open SSE stream of an entry, for the per-token limit. */
    public record Stream(String entryId, String streamId) {}

    /**
     * One admission step's outcome. {@code cohortSize} is -1 until a scheduled sale has opened; {@code opened} is
     * true for the one step (across all instances) that opened it; {@code open} is false before a scheduled opening.
     */
    public record TickResult(long concertId, int admitted, long slot, int expired, int dropped, long waiting, long active,
                             int admitPerTick, int maxActive, long waitTimeoutMs, long admittedTotal, long cohortLeft,
                             long cohortSize, boolean opened, boolean soldOut, boolean open, List<Long> admittedUsers) {
        Admission admission() {
            return Admission.of(admitPerTick, maxActive, active, soldOut);
        }
    }

    public record View(long waiting, long active, int admitPerTick, int maxActive, long activeTtlMs, long waitTimeoutMs,
                       long admittedTotal, long cohortLeft, boolean soldOut, String message, Instant serverTime) {}

    /** Support's view of one user's entry. */
    public record Lookup(String entryId, Kind kind, Long position, Instant lastSeenAt, Instant activeUntil) {}

    /**
     * Joins, or reports the user's live entry. {@code digest} is the user's draw digest when the concert has a seed
     * ("" otherwise), {@code soldOut} the caller's view of the seats (only new entries are refused for it).
     */
    public Mono<JoinOutcome> join(long concertId, long userId, String freshEntryId, String digest, boolean soldOut) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), key(concertId, "seq"), key(concertId, "policy"), key(concertId, "stats"),
                channel(concertId), key(concertId, "cohort"), key(concertId, "sale"));
        List<String> args = List.of(Long.toString(userId), freshEntryId, Long.toString(defaults.waitingTimeout().toMillis()),
                Integer.toString(defaults.admitPerTick()), Integer.toString(defaults.maxActive()), digest, soldOut ? "1" : "0");
        return withSchedule(concertId, () -> run(JOIN, keys, args)).map(r -> {
            String status = str(r.get(0));
            return switch (status) {
                case "NOTOPEN" -> new NotOpen(ms(r.get(1)), ms(r.get(2)), ms(r.get(3)));
                case "NEEDSEED" -> new NeedSeed();
                case "SOLDOUT" -> new SoldOut();
                default -> {
                    touch(concertId); // after the script: see forget()
                    policyCached(concertId, r.get(7));
                    EntryState state = switch (status) {
                        case "ACTIVE" -> new EntryState(Kind.ACTIVE, 0, Instant.ofEpochMilli(num(r.get(2))));
                        case "PREQUEUE" -> EntryState.PREQUEUE;
                        default -> new EntryState(Kind.WAITING, num(r.get(2)), null);
                    };
                    yield new Joined(state, str(r.get(1)), str(r.get(3)).equals("1"), conditions(r, 4));
                }
            };
        });
    }

    /** A join without a draw digest or a sold-out check (tests and benches), failing on any refusal. */
    public Mono<Joined> join(long concertId, long userId, String freshEntryId) {
        return join(concertId, userId, freshEntryId, "", false).flatMap(o -> o instanceof Joined j ? Mono.just(j)
                : Mono.error(new IllegalStateException("join refused: " + o)));
    }

    /** The concert-level fields every join, status and lookup answer carries, from index {@code i} of a reply. */
    @SuppressWarnings("rawtypes")
    private static Conditions conditions(List r, int i) {
        // i: admitPerTick, maxActive, active count, policy cached, now, opens, message, sold out
        String opens = str(r.get(i + 5));
        String message = str(r.get(i + 6));
        return new Conditions((int) num(r.get(i)), (int) num(r.get(i + 1)), num(r.get(i + 2)), ms(r.get(i + 4)),
                opens.isEmpty() ? null : Instant.ofEpochMilli(Long.parseLong(opens)), message.isEmpty() ? null : message,
                "1".equals(str(r.get(i + 7))));
    }

    /** States of many entries of one concert in one round trip; touching counts as presence for waiting ones. */
    public Mono<Batch> states(long concertId, List<Member> members, boolean touch) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), key(concertId, "stats"), key(concertId, "policy"), channel(concertId),
                key(concertId, "cohort"), key(concertId, "sale"));
        List<String> args = new ArrayList<>(4 + members.size() * 2);
        args.add(Integer.toString(defaults.admitPerTick()));
        args.add(Long.toString(defaults.waitingTimeout().toMillis()));
        args.add(touch ? "1" : "0");
        args.add(Integer.toString(defaults.maxActive()));
        for (Member m : members) {
            args.add(Long.toString(m.userId()));
            args.add(m.entryId());
        }
        return withSchedule(concertId, () -> run(STATUS, keys, args)).map(r -> {
            policyCached(concertId, r.get(3));
            List<EntryState> states = new ArrayList<>(members.size());
            boolean anyLive = false;
            for (int i = 8; i + 1 < r.size(); i += 2) {
                EntryState state = switch (str(r.get(i))) {
                    case "W" -> new EntryState(Kind.WAITING, num(r.get(i + 1)), null);
                    case "P" -> EntryState.PREQUEUE;
                    case "A" -> new EntryState(Kind.ACTIVE, 0, Instant.ofEpochMilli(num(r.get(i + 1))));
                    default -> EntryState.GONE;
                };
                anyLive |= state.kind() != Kind.GONE;
                states.add(state);
            }
            if (anyLive) {
                touch(concertId);
            }
            return new Batch(new Conditions((int) num(r.get(0)), (int) num(r.get(1)), num(r.get(2)), ms(r.get(4)),
                    str(r.get(5)).isEmpty() ? null : ms(r.get(5)), str(r.get(6)).isEmpty() ? null : str(r.get(6)),
                    "1".equals(str(r.get(7)))), states);
        });
    }

    public Mono<Boolean> leave(long concertId, long userId, String entryId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), channel(concertId), key(concertId, "cohort"));
        return redis.execute(LEAVE, keys, List.of(Long.toString(userId), entryId))
                .next().timeout(TIMEOUT, timedOut()).map(n -> n == 1L);
    }

    /**
     * One scheduler tick for a concert: at most one caller per slot admits, across all instances. {@code soldOut} is
     * the ticking instance's view of the seats (null: unknown, keep the recorded state).
     */
    public Mono<TickResult> tick(long concertId, Boolean soldOut) {
        AtomicLong touched = live.get(concertId);
        long observed = touched == null ? GONE : touched.get();
        return admitStep(concertId, "tick", 0, soldOut).doOnNext(r -> {
            if (r.waiting() == 0 && r.active() == 0) {
                forget(concertId, observed);
            }
        });
    }

    public Mono<TickResult> tick(long concertId) {
        return tick(concertId, null);
    }

    /** Operator admission: up to {@code count} now, within the cap, outside the tick slots (never before the opening). */
    public Mono<TickResult> admitNow(long concertId, int count) {
        return admitStep(concertId, "admit", count, null);
    }

    private Mono<TickResult> admitStep(long concertId, String mode, int count, Boolean soldOut) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), key(concertId, "stats"), key(concertId, "tick"), key(concertId, "policy"),
                channel(concertId), key(concertId, "cohort"), key(concertId, "sale"));
        List<String> args = List.of(mode, Long.toString(Math.max(1, defaults.tick().toMillis())), Integer.toString(count),
                Integer.toString(defaults.admitPerTick()), Integer.toString(defaults.maxActive()),
                Long.toString(defaults.activeTtl().toMillis()), Long.toString(defaults.waitingTimeout().toMillis()),
                Integer.toString(SWEEP_LIMIT), Integer.toString(FRONT_BUDGET), Integer.toString(MAX_IDS_PER_MESSAGE),
                soldOut == null ? "" : soldOut ? "1" : "0");
        return withSchedule(concertId, () -> withPolicy(concertId, () -> run(ADMIT, keys, args))).map(r -> {
            List<Long> ids = new ArrayList<>();
            for (int i = 15; i < r.size(); i++) {
                ids.add(num(r.get(i)));
            }
            return new TickResult(concertId, (int) num(r.get(0)), num(r.get(1)), (int) num(r.get(2)), (int) num(r.get(3)),
                    num(r.get(4)), num(r.get(5)), (int) num(r.get(6)), (int) num(r.get(7)), num(r.get(8)), num(r.get(9)),
                    num(r.get(10)), num(r.get(11)), num(r.get(12)) == 1, num(r.get(13)) == 1, num(r.get(14)) == 1, ids);
        });
    }

    public Mono<View> view(long concertId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "stats"), key(concertId, "policy"),
                key(concertId, "cohort"), key(concertId, "sale"));
        List<String> args = List.of(Integer.toString(defaults.admitPerTick()), Integer.toString(defaults.maxActive()),
                Long.toString(defaults.activeTtl().toMillis()), Long.toString(defaults.waitingTimeout().toMillis()));
        return withPolicy(concertId, () -> run(VIEW, keys, args)).map(r -> new View(num(r.get(0)), num(r.get(1)), (int) num(r.get(2)),
                (int) num(r.get(3)), num(r.get(4)), num(r.get(5)), num(r.get(6)), num(r.get(7)), num(r.get(8)) == 1,
                str(r.get(9)).isEmpty() ? null : str(r.get(9)), ms(r.get(10))));
    }

    /** The entry id of the first in line, if anyone waits: the cohort's front, else the first arrival (operator display). */
    public Mono<String> frontEntry(long concertId) {
        var first = org.springframework.data.domain.Range.closed(0L, 0L);
        Mono<String> user = redis.opsForZSet().range(key(concertId, "cohort"), first).next().map(m -> m.substring(Draw.DIGEST_HEX))
                .switchIfEmpty(redis.opsForZSet().range(key(concertId, "wait"), first).next());
        return user.flatMap(u -> redis.<String, String>opsForHash().get(key(concertId, "entry"), u))
                .map(v -> v.indexOf('|') < 0 ? v : v.substring(0, v.indexOf('|')))
                .timeout(TIMEOUT, timedOut());
    }

    /** Support's look-up of one user's entry (read only); empty when the user has none. */
    @SuppressWarnings("unchecked")
    public Mono<Lookup> lookup(long concertId, long userId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"), key(concertId, "entry"),
                key(concertId, "cohort"), key(concertId, "sale"));
        return run(LOOKUP, keys, List.of(Long.toString(userId))).filter(r -> !r.isEmpty()).map(r -> {
            String position = str(r.get(2)), seen = str(r.get(3)), until = str(r.get(4));
            return new Lookup(str(r.get(0)), Kind.valueOf(str(r.get(1))), position.isEmpty() ? null : Long.parseLong(position),
                    seen.isEmpty() ? null : ms(seen), until.isEmpty() ? null : ms(until));
        });
    }

    /** Redis TIME of the node that owns this concert's queue: the clock its scripts decide by. */
    public Mono<Instant> clock(long concertId) {
        return redis.execute(CLOCK, List.of(key(concertId, "sale")), List.of()).next().timeout(TIMEOUT, timedOut()).map(Instant::ofEpochMilli);
    }

    /**
     * Caches a concert's schedule (null: the concert has none) unless Redis holds that version or a newer one.
     * Answers 2 when Redis had already opened the sale (its times no longer move), else 1 or 0.
     */
    Mono<Long> cacheSale(long concertId, Sales.Sale sale) {
        List<String> args = sale == null ? List.of("0", "", "", "")
                : List.of(Long.toString(sale.version()), Long.toString(sale.prequeueOpensAt().toEpochMilli()),
                        Long.toString(sale.opensAt().toEpochMilli()), sale.cohortSize() == null ? "" : sale.cohortSize().toString());
        return redis.execute(SALE, List.of(key(concertId, "sale"), channel(concertId)), args).next().timeout(TIMEOUT, timedOut());
    }

    /** Brings the cached schedules of these concerts up to the database (as {@link #syncPolicies} does for policies). */
    Mono<Void> syncSales(Set<Long> concertIds) {
        return sales.loadAll(concertIds).flatMap(sale -> cacheSale(sale.concertId(), sale), 4).then();
    }

    /** Runs a script that needs the schedule; when Redis has no copy, restores it from the database and runs it again. */
    @SuppressWarnings("rawtypes")
    private Mono<List> withSchedule(long concertId, java.util.function.Supplier<Mono<List>> call) {
        return call.get().flatMap(r -> isRefusal(r, "NOSALE") ? restoreSale(concertId).then(Mono.defer(call)) : Mono.just(r))
                .flatMap(r -> isRefusal(r, "NOSALE")
                        ? Mono.error(new IllegalStateException("sale schedule of concert " + concertId + " could not be cached"))
                        : Mono.just(r));
    }

    private Mono<Void> restoreSale(long concertId) {
        return restoringSales.computeIfAbsent(concertId, id -> sales.load(id).map(java.util.Optional::of)
                .defaultIfEmpty(java.util.Optional.empty())
                .flatMap(sale -> cacheSale(id, sale.orElse(null))).then()
                .doFinally(s -> restoringSales.remove(id)).cache());
    }

    /**
     * An operator's change: stored in the database first (the truth, SPEC 4.12), then cached in Redis. If the cache
     * write fails the call fails too; the policy sync ({@link #syncPolicies}) brings the cache level within seconds.
     */
    Mono<Void> setPolicy(long concertId, int admitPerTick, int maxActive, Long activeTtlMs, Long waitTimeoutMs) {
        return policies.save(concertId, admitPerTick, maxActive, activeTtlMs, waitTimeoutMs).flatMap(this::cache).then();
    }

    /** The operator's message to a queue's fans (null clears it): stored with the policy, then cached the same way. */
    Mono<Void> setMessage(long concertId, String message) {
        return policies.saveMessage(concertId, message).flatMap(this::cache).then();
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
        return call.get().flatMap(r -> isRefusal(r, "NOPOLICY") ? restore(concertId).then(Mono.defer(call)) : Mono.just(r))
                .flatMap(r -> isRefusal(r, "NOPOLICY")
                        ? Mono.error(new IllegalStateException("queue policy of concert " + concertId + " could not be cached"))
                        : Mono.just(r));
    }

    @SuppressWarnings("rawtypes")
    private static boolean isRefusal(List r, String word) {
        return r.size() == 1 && !(r.get(0) instanceof Number) && word.equals(str(r.get(0)));
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
        if (p.message() != null) {
            args.add("msg");
            args.add(p.message());
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

    private static Instant ms(Object o) {
        return Instant.ofEpochMilli(num(o));
    }

    private static long num(Object o) {
        if (o instanceof Number n) {
            return n.longValue();
        }
        String s = str(o);
        return s.indexOf('.') >= 0 || s.indexOf('e') >= 0 ? (long) Double.parseDouble(s) : Long.parseLong(s);
    }
}
