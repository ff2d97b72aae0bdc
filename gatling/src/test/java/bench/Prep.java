package bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Set-up work done in a simulation's {@code before()} with a plain HTTP client, so that it never shows
 * in the measured statistics: ACTIVE queue passes (token, then wait for admission), seat holds, queue
 * policies. Everything goes through the public API, as a fan would.
 */
public final class Prep {

    private Prep() {}

    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private static final int THREADS = Bench.intProp("prepThreads", 24);

    public record Resp(int status, JsonNode body) {
        String text(String field) {
            JsonNode n = body == null ? null : body.get(field);
            return n == null || n.isNull() ? null : n.asText();
        }

        long num(String field) {
            JsonNode n = body == null ? null : body.get(field);
            return n == null ? -1 : n.asLong();
        }
    }

    /** An ACTIVE queue pass of a signed-in fan: the queue token and the fan's access token. */
    public record Pass(String token, String access, long userId, long concertId) {}

    /** A seat held with a pass. */
    public record Hold(Pass pass, long reservationId, long concertDateId, int seatNumber, long price) {}

    /** A call as an operator (admin key) or nobody. */
    public static Resp call(String method, String path, Object body, boolean admin) {
        return call(method, path, body, null, null, admin);
    }

    /** A call as a fan: {@code access} is the access token, {@code queueToken} the queue token (either may be null). */
    public static Resp call(String method, String path, Object body, String access, String queueToken, boolean admin) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(Bench.BASE_URL + path))
                    .timeout(Duration.ofSeconds(20))
                    .header("Accept", "application/json");
            if (access != null) {
                b.header("Authorization", "Bearer " + access);
            }
            if (queueToken != null) {
                b.header("Queue-Token", queueToken);
            }
            if (admin) {
                b.header("X-Admin-Key", Bench.ADMIN_KEY);
            }
            if (body != null) {
                b.header("Content-Type", "application/json");
                b.method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
            } else {
                b.method(method, HttpRequest.BodyPublishers.noBody());
            }
            HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode node = null;
            if (r.body() != null && !r.body().isBlank()) {
                try {
                    node = JSON.readTree(r.body());
                } catch (IOException e) {
                    node = null;
                }
            }
            return new Resp(r.statusCode(), node);
        } catch (IOException e) {
            return new Resp(-1, null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Resp(-1, null);
        }
    }

    /** Runs fn over items on a few threads; keeps the non-null results; prints progress and failures. */
    public static <T, R> List<R> parallel(String label, List<T> items, Function<T, R> fn) {
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        AtomicInteger done = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        List<Future<R>> futures = new ArrayList<>(items.size());
        for (T item : items) {
            futures.add(pool.submit(() -> {
                R r = null;
                try {
                    r = fn.apply(item);
                } catch (RuntimeException e) {
                    System.out.println("PREP " + label + " error: " + e);
                }
                if (r == null) {
                    failed.incrementAndGet();
                }
                int d = done.incrementAndGet();
                if (d % 5000 == 0) {
                    System.out.printf("PREP %s: %d/%d%n", label, d, items.size());
                }
                return r;
            }));
        }
        List<R> out = new ArrayList<>(items.size());
        for (Future<R> f : futures) {
            try {
                R r = f.get();
                if (r != null) {
                    out.add(r);
                }
            } catch (Exception e) {
                failed.incrementAndGet();
            }
        }
        pool.shutdown();
        System.out.printf("PREP %s: %d ok, %d failed, %.1f s%n", label, out.size(), failed.get(),
                (System.nanoTime() - start) / 1e9);
        return out;
    }

    private static final Map<String, AtomicInteger> UNEXPECTED = new ConcurrentHashMap<>();

    private static void unexpected(String what, Resp r) {
        int n = UNEXPECTED.computeIfAbsent(what + " " + r.status(), k -> new AtomicInteger()).incrementAndGet();
        if (n <= 3) {
            System.out.println("PREP unexpected " + what + ": " + r.status() + " " + r.body());
        }
    }

    private static final Map<Long, String> ACCESS = new ConcurrentHashMap<>();

    /**
     * A fan's access token, minted once by the operator API ({@code POST /admin/users/{id}/access-token}): load tests
     * authenticate like real clients without 100,000 password logins.
     */
    public static String access(long userId) {
        return ACCESS.computeIfAbsent(userId, id -> {
            Resp r = call("POST", "/api/v1/admin/users/" + id + "/access-token", null, true);
            if (r.status() != 200 || r.text("accessToken") == null) {
                unexpected("access-token", r);
                throw new IllegalStateException("no access token for user " + id + ": " + r.status());
            }
            return r.text("accessToken");
        });
    }

    /** A signed-in fan, for simulations that act as random users. */
    public record Fan(long userId, String access) {}

    /** Access tokens for users 1..count (of the seeded ones), minted in bulk before the run. */
    public static List<Fan> fans(int count) {
        List<Long> ids = new ArrayList<>();
        for (long u = 1; u <= Math.min(count, Bench.USERS); u++) {
            ids.add(u);
        }
        return parallel("access token", ids, id -> new Fan(id, access(id)));
    }

    /** Queue tokens for (user, concert) pairs, then waits until each is ACTIVE (admission by the service). */
    public static List<Pass> activePasses(List<long[]> userConcertPairs, Duration maxWait) {
        List<Pass> issued = parallel("token", userConcertPairs, pair -> {
            String access = access(pair[0]);
            Resp r = call("POST", "/api/v1/queues/token", Map.of("concertId", pair[1]), access, null, false);
            if ((r.status() == 200 || r.status() == 201) && r.text("token") != null) {
                return new Pass(r.text("token"), access, pair[0], pair[1]);
            }
            unexpected("token", r);
            return null;
        });
        List<Pass> active = Collections.synchronizedList(new ArrayList<>());
        List<Pass> waiting = issued;
        long deadline = System.nanoTime() + maxWait.toNanos();
        while (!waiting.isEmpty() && System.nanoTime() < deadline) {
            List<Pass> stillWaiting = Collections.synchronizedList(new ArrayList<>());
            parallel("status", waiting, p -> {
                Resp r = call("GET", "/api/v1/queues/status", null, p.access(), p.token(), false);
                if (r.status() == 200 && "ACTIVE".equals(r.text("status"))) {
                    active.add(p);
                } else if (r.status() == 200 && "WAITING".equals(r.text("status"))) {
                    stillWaiting.add(p);
                } else {
                    unexpected("status", r);
                }
                return p;
            });
            waiting = new ArrayList<>(stillWaiting);
            if (!waiting.isEmpty()) {
                sleep(500);
            }
        }
        System.out.printf("PREP passes: %d active of %d asked (%d still waiting)%n", active.size(), userConcertPairs.size(),
                waiting.size());
        return new ArrayList<>(active);
    }

    /** Holds a random free seat of the pass's concert (a few tries on contested seats). */
    public static Hold hold(Pass p) {
        for (int attempt = 0; attempt < 8; attempt++) {
            long dateId = Bench.randomDateOf(p.concertId());
            int seat = Bench.randomSeatNumber();
            Resp r = call("POST", "/api/v1/reservations",
                    Map.of("userId", p.userId(), "concertDateId", dateId, "seatNumber", seat), p.access(), p.token(), false);
            if (r.status() == 201) {
                return new Hold(p, r.num("reservationId"), dateId, seat, r.num("price"));
            }
            if (r.status() != 409) {
                unexpected("hold", r);
                return null;
            }
        }
        return null;
    }

    public static List<Hold> holds(List<Pass> passes, int count) {
        List<Pass> which = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            which.add(passes.get(i % passes.size()));
        }
        return parallel("hold", which, Prep::hold);
    }

    public static void policy(long concertId, int admitPerTick, int maxActive) {
        Resp r = call("PUT", "/api/v1/admin/queues/" + concertId + "/policy",
                Map.of("admitPerTick", admitPerTick, "maxActive", maxActive), true);
        if (r.status() / 100 != 2) {
            System.out.println("PREP policy for concert " + concertId + " answered " + r.status() + " " + r.body());
        }
    }

    /**
     * Distinct (user, concert) pairs: users firstUser.. in order (wrapping around the seeded users), concerts
     * spread over the given range, a different concert each time the same user comes round again.
     */
    public static List<long[]> pairs(int count, long firstUser, long concertFrom, long concertTo) {
        List<long[]> out = new ArrayList<>(count);
        long span = concertTo - concertFrom + 1;
        long salt = ThreadLocalRandom.current().nextLong(span);
        for (int i = 0; i < count; i++) {
            long index = firstUser - 1 + i;
            long user = index % Bench.USERS + 1;
            long round = index / Bench.USERS;
            long concert = concertFrom + Math.floorMod(user * 7919L + round + salt, span);
            out.add(new long[] {user, concert});
        }
        return out;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void requireNonEmpty(List<?> list, String what) {
        if (Objects.requireNonNull(list).isEmpty()) {
            throw new IllegalStateException("set-up produced no " + what + ": is the API there? (see PREP lines above)");
        }
    }
}
