package com.concertbooking.queue;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import com.concertbooking.support.BookingProperties;
import org.springframework.core.io.ClassPathResource;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * All queue state in Redis, per concert {@code c} (the {c} hash tag keeps one concert's keys in one slot):
 * <pre>
 *   queue:{c}:wait    ZSET user -> arrival sequence   position = ZRANK + 1
 *   queue:{c}:active  ZSET user -> expiry (ms)        count = ZCARD, expiry sweep by score
 *   queue:{c}:seen    ZSET user -> last presence (ms) idle sweep by score (waiting users only)
 *   queue:{c}:entry   HASH user -> entry id           the live entry a token must name
 *   queue:{c}:seq     arrival counter;  queue:{c}:ver  change counter the SSE hubs watch
 *   queue:{c}:stats   HASH admitted total, observed rate;  queue:{c}:hist  LIST of rate samples (60 max)
 *   queue:{c}:tick    last admission slot claimed;  queue:{c}:policy  HASH per-concert overrides
 *   queue:concerts    SET of concerts with anyone waiting or active (what the schedulers visit)
 * </pre>
 * Every mutation is one Lua script (loaded once, run by SHA); every request-path call is O(log N) per user.
 * Time inside scripts is Redis TIME, so instances never disagree about expiry or slots.
 */
@Component
public class QueueStore {

    static final String REGISTRY = "queue:concerts";
    static final Duration TIMEOUT = Duration.ofSeconds(2);
    private static final int SWEEP_LIMIT = 1000;

    @SuppressWarnings("rawtypes")
    private static final RedisScript<List> JOIN = script("join"), STATUS = script("status"), ADMIT = script("admit"), VIEW = script("view");
    private static final RedisScript<Long> LEAVE = new LuaScript<>(source("leave"), Long.class);

    private final ReactiveStringRedisTemplate redis;
    private final BookingProperties.Queue defaults;

    public QueueStore(ReactiveStringRedisTemplate redis, BookingProperties properties) {
        this.redis = redis;
        this.defaults = properties.queue();
    }

    @SuppressWarnings("rawtypes")
    private static RedisScript<List> script(String name) {
        return new LuaScript<>(source(name), List.class);
    }

    /**
     * A script with its SHA-1 computed once. Spring's DefaultRedisScript takes a lock on every getSha1() call,
     * which parks event-loop threads under load; run by EVALSHA, falling back to EVAL after a Redis restart.
     */
    record LuaScript<T>(String getScriptAsString, Class<T> getResultType, String getSha1) implements RedisScript<T> {
        LuaScript(String source, Class<T> resultType) {
            this(source, resultType, sha1(source));
        }

        private static String sha1(String source) {
            try {
                byte[] digest = java.security.MessageDigest.getInstance("SHA-1").digest(source.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                return java.util.HexFormat.of().formatHex(digest);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Read once at class load (a resource-backed script would read the file lazily, on an event loop). */
    private static String source(String name) {
        try (var in = new ClassPathResource("queue/" + name + ".lua").getInputStream()) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("missing Lua script " + name, e);
        }
    }

    static String key(long concertId, String part) {
        return "queue:{" + concertId + "}:" + part;
    }

    static String versionKey(long concertId) {
        return key(concertId, "ver");
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

    public record TickResult(long concertId, int admitted, long slot, int expired, int dropped, long waiting, long active,
                             int admitPerTick, int maxActive, long waitTimeoutMs, double observedRate, List<Long> admittedUsers) {}

    public record View(long waiting, long active, int admitPerTick, int maxActive, long activeTtlMs, long waitTimeoutMs,
                       long admittedTotal, double observedRate) {}

    public Mono<Joined> join(long concertId, long userId, String freshEntryId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), key(concertId, "seq"), versionKey(concertId), key(concertId, "policy"), REGISTRY,
                key(concertId, "stats"));
        return run(JOIN, keys, List.of(Long.toString(userId), freshEntryId, Long.toString(concertId),
                Long.toString(defaults.waitingTimeout().toMillis()), Integer.toString(defaults.admitPerTick())))
                .map(r -> {
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
                key(concertId, "entry"), versionKey(concertId), key(concertId, "stats"), key(concertId, "policy"));
        List<String> args = new ArrayList<>(3 + members.size() * 2);
        args.add(Integer.toString(defaults.admitPerTick()));
        args.add(Long.toString(defaults.waitingTimeout().toMillis()));
        args.add(touch ? "1" : "0");
        for (Member m : members) {
            args.add(Long.toString(m.userId()));
            args.add(m.entryId());
        }
        return run(STATUS, keys, args).map(r -> {
            List<EntryState> states = new ArrayList<>(members.size());
            for (int i = 2; i + 1 < r.size(); i += 2) {
                states.add(switch (str(r.get(i))) {
                    case "W" -> new EntryState(Kind.WAITING, num(r.get(i + 1)), null);
                    case "A" -> new EntryState(Kind.ACTIVE, 0, Instant.ofEpochMilli(num(r.get(i + 1))));
                    default -> EntryState.GONE;
                });
            }
            return new Batch(Double.parseDouble(str(r.get(0))), (int) num(r.get(1)), states);
        });
    }

    public Mono<Boolean> leave(long concertId, long userId, String entryId) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), versionKey(concertId));
        return redis.execute(LEAVE, keys, List.of(Long.toString(userId), entryId))
                .next().timeout(TIMEOUT).map(n -> n == 1L);
    }

    /** One scheduler tick for a concert: at most one caller per slot admits, across all instances. */
    public Mono<TickResult> tick(long concertId) {
        return admitStep(concertId, "tick", 0);
    }

    /** Operator admission: up to {@code count} now, within the cap, outside the tick slots. */
    public Mono<TickResult> admitNow(long concertId, int count) {
        return admitStep(concertId, "admit", count);
    }

    private Mono<TickResult> admitStep(long concertId, String mode, int count) {
        List<String> keys = List.of(key(concertId, "wait"), key(concertId, "active"), key(concertId, "seen"),
                key(concertId, "entry"), versionKey(concertId), key(concertId, "stats"), key(concertId, "hist"),
                key(concertId, "tick"), key(concertId, "policy"), REGISTRY);
        List<String> args = List.of(mode, Long.toString(Math.max(1, defaults.tick().toMillis())), Integer.toString(count),
                Integer.toString(defaults.admitPerTick()), Integer.toString(defaults.maxActive()),
                Long.toString(defaults.activeTtl().toMillis()), Long.toString(defaults.waitingTimeout().toMillis()),
                Long.toString(concertId), Integer.toString(SWEEP_LIMIT));
        return run(ADMIT, keys, args).map(r -> {
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
        return run(VIEW, keys, args).map(r -> new View(num(r.get(0)), num(r.get(1)), (int) num(r.get(2)), (int) num(r.get(3)),
                num(r.get(4)), num(r.get(5)), num(r.get(6)), Double.parseDouble(str(r.get(7)))));
    }

    /** The entry id of the first in line, if anyone waits (two reads, for the operator's display only). */
    public Mono<String> frontEntry(long concertId) {
        return redis.opsForZSet().range(key(concertId, "wait"), org.springframework.data.domain.Range.closed(0L, 0L)).next()
                .flatMap(user -> redis.<String, String>opsForHash().get(key(concertId, "entry"), user))
                .timeout(TIMEOUT);
    }

    /** Per-concert policy overrides; null leaves a field as it is. */
    public Mono<Void> setPolicy(long concertId, Integer admitPerTick, Integer maxActive, Long activeTtlMs, Long waitTimeoutMs) {
        java.util.Map<String, String> fields = new java.util.LinkedHashMap<>();
        if (admitPerTick != null) fields.put("admitPerTick", admitPerTick.toString());
        if (maxActive != null) fields.put("maxActive", maxActive.toString());
        if (activeTtlMs != null) fields.put("activeTtlMs", activeTtlMs.toString());
        if (waitTimeoutMs != null) fields.put("waitTimeoutMs", waitTimeoutMs.toString());
        if (fields.isEmpty()) {
            return Mono.empty();
        }
        // A policy change moves estimates: bump the version so open streams refresh.
        return redis.<String, String>opsForHash().putAll(key(concertId, "policy"), fields)
                .then(redis.opsForValue().increment(versionKey(concertId)))
                .timeout(TIMEOUT).then();
    }

    /** Concerts anyone is waiting or active in (a small set: one member per open queue). */
    public Flux<Long> concerts() {
        return redis.opsForSet().members(REGISTRY).timeout(TIMEOUT).map(Long::parseLong);
    }

    /** Change counters of many concerts in one MGET (null where a concert never changed). */
    public Mono<List<String>> versions(List<Long> concertIds) {
        return redis.opsForValue().multiGet(concertIds.stream().map(QueueStore::versionKey).toList()).timeout(TIMEOUT);
    }

    @SuppressWarnings("rawtypes")
    private Mono<List> run(RedisScript<List> script, List<String> keys, List<String> args) {
        return redis.execute(script, keys, args).next().timeout(TIMEOUT);
    }

    private static String str(Object o) {
        return o instanceof byte[] b ? new String(b, java.nio.charset.StandardCharsets.UTF_8) : String.valueOf(o);
    }

    private static long num(Object o) {
        if (o instanceof Number n) {
            return n.longValue();
        }
        String s = str(o);
        return s.indexOf('.') >= 0 || s.indexOf('e') >= 0 ? (long) Double.parseDouble(s) : Long.parseLong(s);
    }
}
