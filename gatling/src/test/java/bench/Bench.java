package bench;

import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.OpenInjectionStep;
import io.gatling.javaapi.core.PopulationBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.http.HttpProtocolBuilder;

/**
 * Settings shared by every simulation, all overridable with system properties (bin/bench passes them):
 *
 * <pre>
 * baseUrl=http://127.0.0.1:8080   adminKey=dev-admin-key
 * data shape (must match bin/seed-data): scale=small (small, medium, full, stadium-10m, stadium-50m or stadium-100m:
 *   bin/seed-data's scales) gives the defaults of concerts, datesPerConcert, seatsPerDate and users, e.g. small
 *   concerts=100 datesPerConcert=2 seatsPerDate=500 users=10000, stadium-100m concerts=1000 seatsPerDate=50000
 *   users=100000; each of the four given on its own wins
 * load profile (the original study's, default): users-per-profile peak=1000, stage1Users=200,
 *   stage1Secs=10, stage2Secs=30 (ramp to peak), downSecs=10, thinkMs=1000  (closed model:
 *   concurrent users, each doing one request then thinking, replaced when done)
 * scale the profile: peak=N scales stage1Users to N/5; duration=S sets stage2Secs
 * open model instead: rate=R (new users/s, each one request, no think) for duration seconds after
 *   a 10 s ramp
 * open=profile: the same profile as an open model (issue 18): arrivals per second follow the number of
 *   users the closed profile would have divided by the think time (to stage1Users/think in stage1Secs, to
 *   peak/think over stage2Secs, down to 0 in downSecs: 1,000 requests/s at the peak), each arrival one
 *   request; arrivals do not wait for answers, so a slow service meets the whole rate instead of fewer
 *   requests, and its p99 shows it
 * capacity mode: levels=200,400,800 levelSecs=10  (open model, one level after the other; every
 *   request name gets " @R/s" so the report has one row per level)
 * targets: p99=50 (ms, asserted per request name), minCountFactor=0.5 (of the expected count)
 * </pre>
 */
public final class Bench {

    private Bench() {}

    public static String prop(String key, String def) {
        String v = System.getProperty(key);
        return v == null || v.isBlank() ? def : v.trim();
    }

    public static int intProp(String key, int def) {
        return Integer.parseInt(prop(key, String.valueOf(def)));
    }

    public static final String BASE_URL = prop("baseUrl", "http://127.0.0.1:8080");
    public static final String ADMIN_KEY = prop("adminKey", "dev-admin-key");

    /** bin/seed-data's scales: concerts, dates per concert, seats per date, users. */
    private static final Map<String, int[]> SCALES = Map.of(
            "small", new int[] {100, 2, 500, 10_000},
            "medium", new int[] {1_000, 2, 500, 50_000},
            "full", new int[] {10_000, 2, 500, 100_000},
            "stadium-10m", new int[] {100, 2, 50_000, 100_000},
            "stadium-50m", new int[] {500, 2, 50_000, 100_000},
            "stadium-100m", new int[] {1_000, 2, 50_000, 100_000});

    public static final String SCALE = prop("scale", "small");
    private static final int[] SHAPE = shape(SCALE);

    private static int[] shape(String scale) {
        int[] shape = SCALES.get(scale);
        if (shape == null) {
            throw new IllegalArgumentException("unknown scale '" + scale + "' (one of " + new TreeSet<>(SCALES.keySet()) + ")");
        }
        return shape;
    }

    public static final int CONCERTS = intProp("concerts", SHAPE[0]);
    public static final int DATES_PER_CONCERT = intProp("datesPerConcert", SHAPE[1]);
    public static final int SEATS_PER_DATE = intProp("seatsPerDate", SHAPE[2]);
    public static final int USERS = intProp("users", SHAPE[3]);

    public static final int PEAK = intProp("peak", 1000);
    public static final int STAGE1_USERS = intProp("stage1Users", Math.max(1, PEAK / 5));
    public static final int STAGE1_SECS = intProp("stage1Secs", 10);
    public static final int STAGE2_SECS = intProp("duration", intProp("stage2Secs", 30));
    public static final int DOWN_SECS = intProp("downSecs", 10);
    public static final int THINK_MS = intProp("thinkMs", 1000);
    public static final int RATE = intProp("rate", 0);
    public static final boolean OPEN_PROFILE = "profile".equals(prop("open", ""));
    public static final List<Integer> LEVELS = parseLevels(prop("levels", ""));
    public static final int LEVEL_SECS = intProp("levelSecs", 10);
    public static final int P99_MS = intProp("p99", 50);
    public static final double MIN_COUNT_FACTOR = Double.parseDouble(prop("minCountFactor", "0.5"));

    public static boolean capacityMode() {
        return !LEVELS.isEmpty();
    }

    private static List<Integer> parseLevels(String s) {
        if (s.isEmpty()) {
            return List.of();
        }
        return Arrays.stream(s.split(",")).map(String::trim).map(Integer::parseInt).toList();
    }

    // ------------------------------------------------------------------ ids of the seeded data

    /**
     * Hot concerts: the sale that is on. Each hot-path simulation books in its own slice of hotConcerts concerts
     * (default 100, fewer on small data) so that runs in one session do not eat each other's seats: token and
     * seats 1..H, hold H+1..2H, pay 2H+1..4H, cancel 4H+1..5H, journey the next 10, SSE the last concert.
     * Spreading passes over all 10,000 concerts instead would make the admission scheduler visit every one of
     * them twice a second for the passes' 10-minute life, which is not how a sale looks.
     */
    public static final int HOT = intProp("hotConcerts", Math.max(1, Math.min(100, (CONCERTS - 11) / 5)));

    public static long randomHotConcert() {
        return 1 + ThreadLocalRandom.current().nextInt(HOT);
    }

    public static long randomConcert() {
        return 1 + ThreadLocalRandom.current().nextInt(CONCERTS);
    }

    public static long randomUser() {
        return 1 + ThreadLocalRandom.current().nextInt(USERS);
    }

    /** How many seeded fans the random-user simulations sign in before a run (fansPool, default 2,000). */
    public static final int FANS_POOL = intProp("fansPool", 2000);

    private static volatile List<Prep.Fan> fans = List.of();

    /** Set-up of the random-user simulations: access tokens for the fans' pool, minted before the load. */
    public static void signInFans() {
        fans = Prep.fans(FANS_POOL);
        Prep.requireNonEmpty(fans, "signed-in fans");
    }

    /** Session step: act as a random fan of the pool (#{userId}, #{access}). */
    public static ChainBuilder asRandomFan() {
        return exec(session -> {
            Prep.Fan fan = fans.get(ThreadLocalRandom.current().nextInt(fans.size()));
            return session.set("userId", fan.userId()).set("access", fan.access());
        });
    }

    /** Dates of concert c are (c-1)*datesPerConcert+1 .. c*datesPerConcert (bin/seed-data). */
    public static long randomDateOf(long concertId) {
        return (concertId - 1) * DATES_PER_CONCERT + 1 + ThreadLocalRandom.current().nextInt(DATES_PER_CONCERT);
    }

    public static long concertOfDate(long dateId) {
        return (dateId - 1) / DATES_PER_CONCERT + 1;
    }

    public static int randomSeatNumber() {
        return 1 + ThreadLocalRandom.current().nextInt(SEATS_PER_DATE);
    }

    // ------------------------------------------------------------------ protocol and load

    /** Keep-alive connections shared by all virtual users (no TCP churn from replaced users). */
    public static HttpProtocolBuilder protocol() {
        return http.baseUrl(BASE_URL)
                .acceptHeader("application/json")
                .userAgentHeader("booking-gatling")
                .disableWarmUp()
                .disableCaching()
                .shareConnections();
    }

    /** Protocol for long-lived streams: one connection per virtual user. */
    public static HttpProtocolBuilder streamProtocol() {
        return http.baseUrl(BASE_URL)
                .acceptHeader("application/json")
                .userAgentHeader("booking-gatling")
                .disableWarmUp()
                .disableCaching();
    }

    private static volatile long loadStartNanos = 0;

    /** Request name: the plain name, or in capacity mode the name with the current level's rate. */
    public static Function<Session, String> name(String base) {
        if (!capacityMode()) {
            return s -> base;
        }
        return s -> base + " @" + currentLevel() + "/s";
    }

    private static synchronized void markStart() {
        if (loadStartNanos == 0) {
            loadStartNanos = System.nanoTime();
        }
    }

    static int currentLevel() {
        markStart();
        long secs = (System.nanoTime() - loadStartNanos) / 1_000_000_000L;
        int i = (int) Math.min(LEVELS.size() - 1, secs / LEVEL_SECS);
        return LEVELS.get(i);
    }

    /** The measured part of a scenario: the chain, then the think time (closed model only). */
    public static ChainBuilder iteration(ChainBuilder chain) {
        if (capacityMode() || RATE > 0 || OPEN_PROFILE || THINK_MS <= 0) {
            return chain;
        }
        return chain.pause(Duration.ofMillis(THINK_MS));
    }

    /** The injection profile of the measured scenario. */
    public static PopulationBuilder load(ScenarioBuilder scn) {
        if (capacityMode()) {
            List<OpenInjectionStep> steps = new ArrayList<>();
            for (int level : LEVELS) {
                steps.add(constantUsersPerSec(level).during(Duration.ofSeconds(LEVEL_SECS)));
            }
            return scn.injectOpen(steps.toArray(OpenInjectionStep[]::new));
        }
        if (RATE > 0) {
            return scn.injectOpen(rampUsersPerSec(1).to(RATE).during(Duration.ofSeconds(10)),
                    constantUsersPerSec(RATE).during(Duration.ofSeconds(STAGE2_SECS)));
        }
        if (OPEN_PROFILE) {
            double perUser = 1000.0 / Math.max(1, THINK_MS);  // arrivals per second one closed-model user makes
            return scn.injectOpen(
                    rampUsersPerSec(0).to(STAGE1_USERS * perUser).during(Duration.ofSeconds(STAGE1_SECS)),
                    rampUsersPerSec(STAGE1_USERS * perUser).to(PEAK * perUser).during(Duration.ofSeconds(STAGE2_SECS)),
                    rampUsersPerSec(PEAK * perUser).to(0).during(Duration.ofSeconds(DOWN_SECS)));
        }
        return scn.injectClosed(
                rampConcurrentUsers(0).to(STAGE1_USERS).during(Duration.ofSeconds(STAGE1_SECS)),
                rampConcurrentUsers(STAGE1_USERS).to(PEAK).during(Duration.ofSeconds(STAGE2_SECS)),
                rampConcurrentUsers(PEAK).to(0).during(Duration.ofSeconds(DOWN_SECS)));
    }

    /** How many iterations the profile gives, at the given mean iteration latency. */
    public static long expectedIterations(double latencySecs) {
        if (capacityMode()) {
            return LEVELS.stream().mapToLong(l -> (long) l * LEVEL_SECS).sum();
        }
        if (RATE > 0) {
            return (long) RATE * STAGE2_SECS + (long) RATE * 10 / 2;
        }
        double userSecs = STAGE1_USERS * STAGE1_SECS / 2.0 + (STAGE1_USERS + PEAK) * STAGE2_SECS / 2.0 + PEAK * DOWN_SECS / 2.0;
        if (OPEN_PROFILE) {
            return (long) (userSecs / Math.max(0.001, THINK_MS / 1000.0));  // arrivals do not wait for answers
        }
        return (long) (userSecs / (THINK_MS / 1000.0 + latencySecs));
    }

    /** Per request name: p99 under target, no failed request, and at least this many requests. */
    public static List<Assertion> assertions(String name, long minCount) {
        if (capacityMode()) {
            return List.of();  // exploratory: bin/bench reads the per-level rows
        }
        return List.of(
                details(name).responseTime().percentile(99.0).lt(P99_MS),
                details(name).failedRequests().count().is(0L),
                details(name).allRequests().count().gte(minCount));
    }

    public static List<Assertion> standardAssertions(String name) {
        return assertions(name, (long) (expectedIterations(0.05) * MIN_COUNT_FACTOR));
    }

    // ------------------------------------------------------------------ expected outcomes

    /** Counts of expected non-2xx outcomes (e.g. 409 SEAT_UNAVAILABLE on a contested seat), per request name. */
    private static final Map<String, AtomicLong> EXPECTED = new ConcurrentHashMap<>();

    public static void expected(String what) {
        EXPECTED.computeIfAbsent(what, k -> new AtomicLong()).incrementAndGet();
    }

    /** Printed at the end of a run; bin/bench copies these lines into the report. */
    public static void printExpected() {
        if (EXPECTED.isEmpty()) {
            System.out.println("BENCH-EXPECTED none");
        }
        EXPECTED.forEach((k, v) -> System.out.println("BENCH-EXPECTED " + k + " = " + v.get()));
    }
}
