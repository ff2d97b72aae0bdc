package com.concertbooking.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.stream.Collectors;

import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.reactive.RedisReactiveCommands;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import org.springframework.r2dbc.connection.R2dbcTransactionManager;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Lock-strategy comparison (issue 4, item 7). Not a test: run it with {@code bin/lock-bench}.
 *
 * <p>Four ways to make "hold a seat" and "charge a balance" safe under contention, each measured with
 * every request fired at once through one 50-connection R2DBC pool (the application's pool size) and
 * one Lettuce connection, against MariaDB and Redis:
 * <ul>
 *   <li>pessimistic: transaction { SELECT ... FOR UPDATE; UPDATE }</li>
 *   <li>optimistic: SELECT version; UPDATE ... WHERE version = ?; retry on 0 rows (bounded, jittered)</li>
 *   <li>conditional: one UPDATE whose WHERE clause is the business rule (what the application does)</li>
 *   <li>conditional in RC tx: the same inside a READ COMMITTED transaction, the shape of the service's hold</li>
 *   <li>redis-lock: SET NX PX, spin until acquired (bounded), read + write, release with a Lua check-and-delete</li>
 *   <li>redis-lock-failfast: the same, but a request that finds the lock taken gives up at once</li>
 * </ul>
 * Correctness is checked against the database after each run: exactly one winner per seat and the
 * database agrees with who was told they won; the balance equals successful charges x amount.
 * It uses its own tables (lock_bench_*) in the database given, never the application's.
 */
public final class LockStrategyBench {

    enum Outcome { WON, LOST, ERROR }

    record Result(Outcome outcome, long nanos, int retries, long request, long target) {}

    record Run(String scenario, String strategy, int requests, double seconds, double throughput, double p50Ms, double p99Ms,
               double maxMs, long errors, long retries, String correctness) {}

    static final String FREE = "(status = 'AVAILABLE' OR (status = 'HELD' AND held_until <= :now))";
    static final Duration HOLD = Duration.ofMinutes(5);
    static final String RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

    final DatabaseClient db;
    final TransactionalOperator tx;
    final TransactionalOperator readCommitted;
    final RedisReactiveCommands<String, String> redis;
    final String runId = UUID.randomUUID().toString().substring(0, 8);

    LockStrategyBench(DatabaseClient db, TransactionalOperator tx, TransactionalOperator readCommitted,
                      RedisReactiveCommands<String, String> redis) {
        this.db = db;
        this.tx = tx;
        this.readCommitted = readCommitted;
        this.redis = redis;
    }

    public static void main(String[] args) throws IOException {
        String dbUrl = env("BENCH_R2DBC_URL", "r2dbc:pool:mysql://booking:booking@127.0.0.1:3306/booking_test_booking"
                + "?initialSize=50&maxSize=50&connectionTimeZone=UTC&forceConnectionTimeZoneToSession=true");
        String redisUrl = env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2");
        int reps = Integer.parseInt(env("BENCH_REPS", "3"));
        ConnectionFactory factory = ConnectionFactories.get(dbUrl);
        DatabaseClient db = DatabaseClient.create(factory);
        var transactionManager = new R2dbcTransactionManager(factory);
        TransactionalOperator tx = TransactionalOperator.create(transactionManager);
        TransactionalOperator readCommitted = com.concertbooking.support.Transactions.readCommitted(transactionManager);
        RedisClient redisClient = RedisClient.create(redisUrl);
        try (StatefulRedisConnection<String, String> connection = redisClient.connect()) {
            var bench = new LockStrategyBench(db, tx, readCommitted, connection.reactive());
            List<Run> runs = bench.runAll(reps);
            String table = table(runs, reps);
            System.out.println(table);
            Path out = Path.of("target", "lock-bench", "results-" + Instant.now().toString().replace(':', '-') + ".md");
            Files.createDirectories(out.getParent());
            Files.writeString(out, table);
            System.out.println("written to " + out);
        } finally {
            redisClient.shutdown();
            if (factory instanceof io.r2dbc.pool.ConnectionPool pool) {
                pool.disposeLater().block();
            }
        }
    }

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }

    List<Run> runAll(int reps) {
        setUp();
        List<String> seatStrategies = List.of("pessimistic", "optimistic", "conditional", "conditional in RC tx", "redis-lock",
                "redis-lock-failfast");
        List<String> balanceStrategies = List.of("pessimistic", "optimistic", "conditional", "redis-lock", "no-lock (unsafe baseline)");
        // Warm-up: JIT, pool connections, Redis connection; not recorded.
        for (String s : seatStrategies) {
            seats("warm-up", s, 500, 50);
        }
        for (String s : balanceStrategies) {
            charges("warm-up", s, 200);
        }
        List<Run> all = new ArrayList<>();
        for (int rep = 0; rep < reps; rep++) {
            // Interleave strategies within a repetition so background load on the shared machine hits all alike.
            for (String s : seatStrategies) {
                all.add(seats("1,000 holds on 1 seat", s, 1000, 1));
            }
            for (String s : seatStrategies) {
                all.add(seats("5,000 holds over 500 seats", s, 5000, 500));
            }
            for (String s : balanceStrategies) {
                all.add(charges("1,000 charges on 1 balance", s, 1000));
            }
            System.err.println("repetition " + (rep + 1) + " of " + reps + " done");
        }
        return all;
    }

    void setUp() {
        db.sql("""
                CREATE TABLE IF NOT EXISTS lock_bench_seat (
                  id BIGINT NOT NULL PRIMARY KEY,
                  status VARCHAR(10) NOT NULL DEFAULT 'AVAILABLE',
                  held_until DATETIME(6) NULL,
                  reservation_id BIGINT NULL,
                  version BIGINT NOT NULL DEFAULT 0
                ) ENGINE = InnoDB""").then().block();
        db.sql("""
                CREATE TABLE IF NOT EXISTS lock_bench_account (
                  id BIGINT NOT NULL PRIMARY KEY,
                  balance BIGINT NOT NULL DEFAULT 0,
                  version BIGINT NOT NULL DEFAULT 0,
                  CONSTRAINT ck_lock_bench_balance CHECK (balance >= 0 AND balance <= 1000000000)
                ) ENGINE = InnoDB""").then().block();
    }

    // ------------------------------------------------------------------ seats

    Run seats(String scenario, String strategy, int requests, int seatCount) {
        db.sql("DELETE FROM lock_bench_seat").then().block();
        String values = java.util.stream.IntStream.rangeClosed(1, seatCount).mapToObj(i -> "(" + i + ")").collect(Collectors.joining(","));
        db.sql("INSERT INTO lock_bench_seat (id) VALUES " + values).then().block();
        List<Long> targets = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            targets.add((long) (i % seatCount) + 1);
        }
        Collections.shuffle(targets, new Random(42));
        BiFunction<Long, Long, Mono<Result>> attempt = switch (strategy) {
            case "pessimistic" -> this::holdPessimistic;
            case "optimistic" -> this::holdOptimistic;
            case "conditional" -> this::holdConditional;
            case "conditional in RC tx" -> this::holdConditionalInTransaction;
            case "redis-lock" -> (seat, request) -> holdRedis(seat, request, true);
            case "redis-lock-failfast" -> (seat, request) -> holdRedis(seat, request, false);
            default -> throw new IllegalArgumentException(strategy);
        };
        long start = System.nanoTime();
        List<Result> results = Flux.range(0, requests)
                .flatMap(i -> timed(attempt.apply(targets.get(i), (long) i + 1), (long) i + 1, targets.get(i)), requests)
                .collectList().block();
        double seconds = (System.nanoTime() - start) / 1e9;
        // Correctness: one winner per seat, and the database names the same winner.
        Map<Long, List<Long>> winners = new HashMap<>();
        results.stream().filter(r -> r.outcome() == Outcome.WON)
                .forEach(r -> winners.computeIfAbsent(r.target(), k -> new ArrayList<>()).add(r.request()));
        Map<Long, Long> stored = new HashMap<>();
        db.sql("SELECT id, reservation_id FROM lock_bench_seat WHERE status = 'HELD'")
                .map(r -> Map.entry(r.get("id", Long.class), r.get("reservation_id", Long.class))).all()
                .doOnNext(e -> stored.put(e.getKey(), e.getValue())).blockLast();
        List<String> problems = new ArrayList<>();
        long doubleBooked = winners.values().stream().filter(w -> w.size() > 1).count();
        if (doubleBooked > 0) {
            problems.add(doubleBooked + " seats told 2+ winners");
        }
        long mismatched = winners.entrySet().stream().filter(e -> !e.getValue().contains(stored.get(e.getKey()))).count();
        if (mismatched > 0) {
            problems.add(mismatched + " seats whose stored holder was not told it won");
        }
        long unsold = seatCount - stored.size();
        if (unsold > 0) {
            problems.add(unsold + " seats left free although requested");
        }
        return summarize(scenario, strategy, results, seconds, problems.isEmpty() ? "OK (" + winners.size() + " winners)" : String.join("; ", problems));
    }

    Mono<Result> holdPessimistic(long seat, long request) {
        LocalDateTime now = now();
        return db.sql("SELECT status, held_until FROM lock_bench_seat WHERE id = :id FOR UPDATE").bind("id", seat)
                .map(r -> isFree(r.get("status", String.class), r.get("held_until", LocalDateTime.class), now)).one()
                .flatMap(free -> !free ? Mono.just(Outcome.LOST)
                        : db.sql("UPDATE lock_bench_seat SET status = 'HELD', held_until = :until, reservation_id = :r WHERE id = :id")
                        .bind("until", now.plus(HOLD)).bind("r", request).bind("id", seat).fetch().rowsUpdated().thenReturn(Outcome.WON))
                .as(tx::transactional)
                .map(o -> new Result(o, 0, 0, request, seat));
    }

    Mono<Result> holdOptimistic(long seat, long request) {
        AtomicLong retries = new AtomicLong();
        LocalDateTime now = now();
        Mono<Outcome> once = Mono.defer(() -> db.sql("SELECT status, held_until, version FROM lock_bench_seat WHERE id = :id").bind("id", seat)
                .map(r -> new Object[] {isFree(r.get("status", String.class), r.get("held_until", LocalDateTime.class), now), r.get("version", Long.class)})
                .one()
                .flatMap(row -> !(Boolean) row[0] ? Mono.just(Outcome.LOST)
                        : db.sql("UPDATE lock_bench_seat SET status = 'HELD', held_until = :until, reservation_id = :r, version = version + 1 "
                                        + "WHERE id = :id AND version = :v")
                        .bind("until", now.plus(HOLD)).bind("r", request).bind("id", seat).bind("v", row[1]).fetch().rowsUpdated()
                        .flatMap(n -> n == 1 ? Mono.just(Outcome.WON) : Mono.error(new Conflict()))));
        return retryConflicts(once, retries, 10).map(o -> new Result(o, 0, (int) retries.get(), request, seat));
    }

    Mono<Result> holdConditional(long seat, long request) {
        LocalDateTime now = now();
        return db.sql("UPDATE lock_bench_seat SET status = 'HELD', held_until = :until, reservation_id = :r, version = version + 1 "
                        + "WHERE id = :id AND " + FREE)
                .bind("until", now.plus(HOLD)).bind("r", request).bind("id", seat).bind("now", now)
                .fetch().rowsUpdated()
                .map(n -> new Result(n == 1 ? Outcome.WON : Outcome.LOST, 0, 0, request, seat));
    }

    /** The service's shape: the same UPDATE inside a READ COMMITTED transaction (which the service extends with its insert). */
    Mono<Result> holdConditionalInTransaction(long seat, long request) {
        return holdConditional(seat, request).as(readCommitted::transactional);
    }

    Mono<Result> holdRedis(long seat, long request, boolean wait) {
        LocalDateTime now = now();
        String key = "lockbench:" + runId + ":seat:" + seat;
        Mono<Outcome> critical = db.sql("SELECT status, held_until FROM lock_bench_seat WHERE id = :id").bind("id", seat)
                .map(r -> isFree(r.get("status", String.class), r.get("held_until", LocalDateTime.class), now)).one()
                .flatMap(free -> !free ? Mono.just(Outcome.LOST)
                        : db.sql("UPDATE lock_bench_seat SET status = 'HELD', held_until = :until, reservation_id = :r WHERE id = :id")
                        .bind("until", now.plus(HOLD)).bind("r", request).bind("id", seat).fetch().rowsUpdated().thenReturn(Outcome.WON));
        return withRedisLock(key, critical, wait).map(t -> new Result(t.outcome(), 0, t.retries(), request, seat));
    }

    // ------------------------------------------------------------------ balances

    static final long AMOUNT = 1_000;

    Run charges(String scenario, String strategy, int requests) {
        long account = 1;
        db.sql("INSERT INTO lock_bench_account (id, balance) VALUES (1, 0) ON DUPLICATE KEY UPDATE balance = 0, version = 0").then().block();
        BiFunction<Long, Long, Mono<Result>> attempt = switch (strategy) {
            case "pessimistic" -> this::chargePessimistic;
            case "optimistic" -> this::chargeOptimistic;
            case "conditional" -> this::chargeConditional;
            case "redis-lock" -> this::chargeRedis;
            case "no-lock (unsafe baseline)" -> this::chargeUnsafe;
            default -> throw new IllegalArgumentException(strategy);
        };
        long start = System.nanoTime();
        List<Result> results = Flux.range(0, requests)
                .flatMap(i -> timed(attempt.apply(account, (long) i + 1), (long) i + 1, account), requests)
                .collectList().block();
        double seconds = (System.nanoTime() - start) / 1e9;
        long ok = results.stream().filter(r -> r.outcome() == Outcome.WON).count();
        long balance = db.sql("SELECT balance FROM lock_bench_account WHERE id = 1").map(r -> r.get("balance", Long.class)).one().block();
        String correctness = balance == ok * AMOUNT
                ? "OK (" + ok + " charges = " + balance + ")"
                : "LOST UPDATES: " + ok + " charges acknowledged, balance " + balance + " (expected " + ok * AMOUNT + ")";
        return summarize(scenario, strategy, results, seconds, correctness);
    }

    Mono<Result> chargePessimistic(long account, long request) {
        return db.sql("SELECT balance FROM lock_bench_account WHERE id = :id FOR UPDATE").bind("id", account)
                .map(r -> r.get("balance", Long.class)).one()
                .flatMap(b -> db.sql("UPDATE lock_bench_account SET balance = :b WHERE id = :id").bind("b", b + AMOUNT).bind("id", account)
                        .fetch().rowsUpdated())
                .as(tx::transactional)
                .map(n -> new Result(n == 1 ? Outcome.WON : Outcome.ERROR, 0, 0, request, account));
    }

    Mono<Result> chargeOptimistic(long account, long request) {
        AtomicLong retries = new AtomicLong();
        Mono<Outcome> once = Mono.defer(() -> db.sql("SELECT balance, version FROM lock_bench_account WHERE id = :id").bind("id", account)
                .map(r -> new long[] {r.get("balance", Long.class), r.get("version", Long.class)}).one()
                .flatMap(row -> db.sql("UPDATE lock_bench_account SET balance = :b, version = version + 1 WHERE id = :id AND version = :v")
                        .bind("b", row[0] + AMOUNT).bind("id", account).bind("v", row[1]).fetch().rowsUpdated())
                .flatMap(n -> n == 1 ? Mono.just(Outcome.WON) : Mono.error(new Conflict())));
        return retryConflicts(once, retries, 50).map(o -> new Result(o, 0, (int) retries.get(), request, account));
    }

    Mono<Result> chargeConditional(long account, long request) {
        return db.sql("UPDATE lock_bench_account SET balance = balance + :a, version = version + 1 WHERE id = :id AND balance <= :max - :a")
                .bind("a", AMOUNT).bind("id", account).bind("max", 1_000_000_000L)
                .fetch().rowsUpdated()
                .map(n -> new Result(n == 1 ? Outcome.WON : Outcome.ERROR, 0, 0, request, account));
    }

    Mono<Result> chargeRedis(long account, long request) {
        String key = "lockbench:" + runId + ":account:" + account;
        Mono<Outcome> critical = db.sql("SELECT balance FROM lock_bench_account WHERE id = :id").bind("id", account)
                .map(r -> r.get("balance", Long.class)).one()
                .flatMap(b -> db.sql("UPDATE lock_bench_account SET balance = :b WHERE id = :id").bind("b", b + AMOUNT).bind("id", account)
                        .fetch().rowsUpdated())
                .thenReturn(Outcome.WON);
        return withRedisLock(key, critical, true).map(t -> new Result(t.outcome(), 0, t.retries(), request, account));
    }

    Mono<Result> chargeUnsafe(long account, long request) {
        return db.sql("SELECT balance FROM lock_bench_account WHERE id = :id").bind("id", account)
                .map(r -> r.get("balance", Long.class)).one()
                .flatMap(b -> db.sql("UPDATE lock_bench_account SET balance = :b WHERE id = :id").bind("b", b + AMOUNT).bind("id", account)
                        .fetch().rowsUpdated())
                .map(n -> new Result(Outcome.WON, 0, 0, request, account));
    }

    // ------------------------------------------------------------------ helpers

    static final class Conflict extends RuntimeException {
        Conflict() {
            super(null, null, false, false);
        }
    }

    record Locked(Outcome outcome, int retries) {}

    /** SET NX PX with a random token; when waiting, retry with jittered backoff (2-50 ms) for up to 5 s; release only our own lock. */
    Mono<Locked> withRedisLock(String key, Mono<Outcome> critical, boolean wait) {
        String token = UUID.randomUUID().toString();
        AtomicLong attempts = new AtomicLong();
        Mono<Boolean> acquire = Mono.defer(() -> {
            attempts.incrementAndGet();
            return redis.set(key, token, SetArgs.Builder.nx().px(3_000)).map("OK"::equals).defaultIfEmpty(false);
        });
        Mono<Boolean> acquired = !wait ? acquire
                : acquire.flatMap(ok -> ok ? Mono.just(true) : Mono.error(new Conflict()))
                // Exponential backoff with jitter: a fixed short spin floods Redis and starves the holder's release.
                .retryWhen(reactor.util.retry.Retry.backoff(Long.MAX_VALUE, Duration.ofMillis(2)).maxBackoff(Duration.ofMillis(50))
                        .jitter(0.5).filter(Conflict.class::isInstance))
                .timeout(Duration.ofSeconds(5))
                .onErrorReturn(false);
        return acquired.flatMap(ok -> !ok ? Mono.just(new Locked(wait ? Outcome.ERROR : Outcome.LOST, (int) attempts.get() - 1))
                : critical.flatMap(o -> redis.eval(RELEASE, ScriptOutputType.INTEGER, new String[] {key}, token).then(Mono.just(o)))
                .map(o -> new Locked(o, (int) attempts.get() - 1)));
    }

    static Mono<Outcome> retryConflicts(Mono<Outcome> once, AtomicLong retries, int max) {
        return once.onErrorResume(Conflict.class, e -> {
            if (retries.incrementAndGet() > max) {
                return Mono.just(Outcome.ERROR);
            }
            return Mono.delay(Duration.ofMillis(1 + ThreadLocalRandom.current().nextInt(1 << Math.min(retries.intValue(), 5))))
                    .then(retryConflicts(once, retries, max));
        });
    }

    static Mono<Result> timed(Mono<Result> attempt, long request, long target) {
        return Mono.defer(() -> {
            long start = System.nanoTime();
            return attempt
                    .onErrorResume(e -> Mono.just(new Result(Outcome.ERROR, 0, 0, request, target)))
                    .map(r -> new Result(r.outcome(), System.nanoTime() - start, r.retries(), request, target));
        });
    }

    static boolean isFree(String status, LocalDateTime heldUntil, LocalDateTime now) {
        return "AVAILABLE".equals(status) || ("HELD".equals(status) && heldUntil != null && !heldUntil.isAfter(now));
    }

    static LocalDateTime now() {
        return LocalDateTime.now(ZoneOffset.UTC);
    }

    static Run summarize(String scenario, String strategy, List<Result> results, double seconds, String correctness) {
        long[] nanos = results.stream().mapToLong(Result::nanos).sorted().toArray();
        long errors = results.stream().filter(r -> r.outcome() == Outcome.ERROR).count();
        long retries = results.stream().mapToLong(Result::retries).sum();
        Run run = new Run(scenario, strategy, results.size(), seconds, results.size() / seconds, pct(nanos, 0.50), pct(nanos, 0.99),
                nanos[nanos.length - 1] / 1e6, errors, retries, correctness);
        System.err.printf("%-28s %-28s %6.0f req/s p99 %7.1f ms errors %d retries %d %s%n", scenario, strategy, run.throughput(),
                run.p99Ms(), errors, retries, correctness);
        return run;
    }

    static double pct(long[] sorted, double p) {
        int index = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))] / 1e6;
    }

    /** Median over repetitions of throughput, p50 and p99 (each taken separately); errors and retries summed; correctness of every run. */
    static String table(List<Run> runs, int reps) {
        StringBuilder out = new StringBuilder();
        out.append("| scenario | strategy | req/s (median) | p50 ms | p99 ms | max ms | errors (all reps) | retries (all reps) | correctness (every rep) |\n");
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
        Map<String, List<Run>> groups = runs.stream().collect(Collectors.groupingBy(r -> r.scenario() + "\u0000" + r.strategy(),
                java.util.LinkedHashMap::new, Collectors.toList()));
        for (List<Run> group : groups.values()) {
            Run first = group.get(0);
            List<String> verdicts = group.stream().map(Run::correctness).distinct().toList();
            out.append(String.format("| %s | %s | %.0f | %.1f | %.1f | %.1f | %d | %d | %s |%n", first.scenario(), first.strategy(),
                    median(group.stream().mapToDouble(Run::throughput).toArray()),
                    median(group.stream().mapToDouble(Run::p50Ms).toArray()),
                    median(group.stream().mapToDouble(Run::p99Ms).toArray()),
                    group.stream().mapToDouble(Run::maxMs).max().orElse(0),
                    group.stream().mapToLong(Run::errors).sum(),
                    group.stream().mapToLong(Run::retries).sum(),
                    String.join(" / ", verdicts)));
        }
        out.append("\n").append(reps).append(" repetitions; requests per run as named in the scenario, all fired at once.\n");
        return out.toString();
    }

    static double median(double[] values) {
        double[] copy = values.clone();
        java.util.Arrays.sort(copy);
        return copy.length % 2 == 1 ? copy[copy.length / 2] : (copy[copy.length / 2 - 1] + copy[copy.length / 2]) / 2;
    }
}
