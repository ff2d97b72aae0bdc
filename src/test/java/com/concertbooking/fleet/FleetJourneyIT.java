package com.concertbooking.fleet;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import com.concertbooking.events.KafkaTestClients;
import com.concertbooking.faults.StoreCheck;
import com.concertbooking.fleet.Http.Reply;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 12 items 3, 4 and 6, SPEC 13: the fan journey through HAProxy against three instances
 * ({@code bin/fleet}, from the packaged jar), one instance SIGKILLed mid-journey and restarted, and at
 * the end the rules of SPEC 4 checked in the database, the notification store and Kafka themselves.
 * Run by failsafe after {@code package} ({@code bin/test}, {@code mvn verify}); alone:
 * {@code mvn -B verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=FleetJourneyIT}.
 * Its figures are printed and written to {@code target/fleet-it/results.txt} (docs/fleet.md quotes a run).
 */
class FleetJourneyIT {

    // The defaults are the check that bin/test runs. Other values measure instead (docs/fleet.md, scale-out cost):
    // e.g. -Dfleet.instances=1 -Dfleet.kill=false -Dfleet.fans=400 -Dfleet.admitPerTick=500 -Dfleet.maxActive=5000.
    static final int INSTANCES = Integer.getInteger("fleet.instances", 3);
    static final boolean KILL = Boolean.parseBoolean(System.getProperty("fleet.kill", "true")) && INSTANCES >= 2;
    static final int FANS = Integer.getInteger("fleet.fans", 130);
    static final int DATES = 8;
    static final int SEATS_PER_DATE = Math.max(20, (FANS * 5 / 4 + DATES - 1) / DATES);
    static final int ADMIT_PER_TICK = Integer.getInteger("fleet.admitPerTick", 8);
    static final int MAX_ACTIVE = Integer.getInteger("fleet.maxActive", 20);
    static final int KILLED = 2;
    static final String RUN = Long.toString(System.currentTimeMillis(), 36);
    static final String PASSWORD = "fleet-pass-" + RUN;
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path STATE = ROOT.resolve("target/fleet-it");
    static final String BOOTSTRAP = env("BOOKING_KAFKA_BOOTSTRAP", "127.0.0.1:9092");
    static final String DATABASE = env("BOOKING_TEST_DB_NAME", "booking_test") + "_fleet";
    static final String TOPIC_PREFIX = "fleet-" + RUN + ".";
    static final String GROUP = "fleet-" + RUN + "-notifications";
    static final int PORT = Integer.parseInt(env("BOOKING_FLEET_PORT", "8280"));

    static Http http;
    static String adminKey;
    static final StringBuilder results = new StringBuilder();

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    static Map<String, String> fleetEnv() {
        Map<String, String> e = new HashMap<>();
        e.put("BOOKING_FLEET_STATE", STATE.toString());
        e.put("BOOKING_DB_NAME", DATABASE);
        e.put("BOOKING_EVENTS_TOPICPREFIX", TOPIC_PREFIX);
        e.put("BOOKING_EVENTS_CONSUMER_GROUP", GROUP);
        // Start-up speed over peak speed (three JVMs start on two shared cores): C1 only, serial GC, and the
        // OpenAPI document built on first request instead of at start (nobody requests it here).
        e.put("BOOKING_FLEET_JAVA_OPTS", System.getProperty("fleet.javaOpts", "-Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"));
        // Its own database means its own concert ids: a Redis database of its own keeps their queue keys apart from
        // the other tests' concerts with the same ids on the shared Redis (a collision left fans never admitted).
        // (The fleet always runs on the single Redis of bin/infra.)
        e.put("BOOKING_FLEET_ARGS", "--springdoc.pre-loading-enabled=false --spring.data.redis.database=3");
        return e;
    }

    static int fleet(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(ROOT.resolve("bin/fleet").toString());
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(STATE.resolve("fleet-command.log").toFile()));
        pb.environment().putAll(fleetEnv());
        Process p = pb.start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("bin/fleet " + String.join(" ", args) + " did not finish");
        }
        return p.exitValue();
    }

    static Connection db() throws SQLException {
        return DriverManager.getConnection("jdbc:mariadb://" + env("BOOKING_DB_HOST", "127.0.0.1") + ":" + env("BOOKING_DB_PORT", "3306")
                + "/" + DATABASE, env("BOOKING_DB_USER", "booking"), env("BOOKING_DB_PASSWORD", "booking"));
    }

    @BeforeAll
    static void startFleet() throws Exception {
        Files.createDirectories(STATE);
        try (Connection c = DriverManager.getConnection("jdbc:mariadb://" + env("BOOKING_DB_HOST", "127.0.0.1") + ":"
                + env("BOOKING_DB_PORT", "3306") + "/", env("BOOKING_DB_USER", "booking"), env("BOOKING_DB_PASSWORD", "booking"))) {
            c.createStatement().execute("CREATE DATABASE IF NOT EXISTS `" + DATABASE + "`");
        }
        fleet("down");
        Instant t0 = Instant.now();
        int rc = fleet("up", "--instances", Integer.toString(INSTANCES));
        assertThat(rc).as("bin/fleet up (log: %s)", STATE.resolve("fleet-command.log")).isZero();
        note("fleet of " + INSTANCES + " up in %d s", Duration.between(t0, Instant.now()).toSeconds());
        adminKey = Files.readString(STATE.resolve("admin-key")).trim();
        http = new Http("http://127.0.0.1:" + PORT);
    }

    @AfterAll
    static void stopFleet() throws Exception {
        try {
            fleet("down");
        } finally {
            System.out.println(results);
            Files.writeString(STATE.resolve("results.txt"), results.toString());
        }
    }

    static void note(String format, Object... args) {
        String line = String.format(format, args);
        results.append(line).append('\n');
    }

    Reply admin(String method, String path, Object body) {
        Reply r = null;
        for (int i = 0; i < 20; i++) {
            r = http.send(method, path, body, Map.of("X-Admin-Key", adminKey));
            if (!r.transientFailure()) {
                return r;
            }
            Http.pause(500);
        }
        return r;
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void fansThroughTheBalancerWhileAnInstanceDies() throws Exception {
        // ---------------------------------------------------------------- setup through the balancer
        List<Map<String, Object>> dates = new ArrayList<>();
        for (int d = 0; d < DATES; d++) {
            dates.add(Map.of("startsAt", Instant.now().plus(Duration.ofDays(30 + d)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString(),
                    "venue", "Fleet Hall", "seats", List.of(Map.of("grade", "R", "price", 40_000 + 1_000 * d, "count", SEATS_PER_DATE))));
        }
        Reply concert = admin("POST", "/api/v1/admin/concerts", Map.of("name", "Fleet " + RUN, "description", "issue 12", "dates", dates));
        assertThat(concert.status()).as("create concert: %s", concert.body()).isEqualTo(201);
        long concertId = concert.body().path("concertId").asLong();
        List<Long> dateIds = new ArrayList<>();
        concert.body().path("dates").forEach(d -> dateIds.add(d.path("concertDateId").asLong()));
        Reply policy = admin("PUT", "/api/v1/admin/queues/" + concertId + "/policy", Map.of("admitPerTick", ADMIT_PER_TICK, "maxActive", MAX_ACTIVE));
        assertThat(policy.ok()).as("policy: %s", policy.body()).isTrue();

        ExecutorService pool = Executors.newFixedThreadPool(FANS + 8);
        List<Future<Fan>> created = new ArrayList<>();
        Fan.Run run = new Fan.Run(http, adminKey, concertId, dateIds, SEATS_PER_DATE, PASSWORD, new AtomicInteger(),
                new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), Fan.synchronizedList());
        for (int i = 0; i < FANS; i++) {
            int index = i;
            created.add(pool.submit(() -> {
                String username = "fleet-" + RUN + "-" + index;
                Map<String, Object> body = index < 12 ? Map.of("username", username, "password", PASSWORD, "balance", 0)
                        : Map.of("username", username, "balance", 0);
                Reply r = admin("POST", "/api/v1/admin/users", body);
                if (r.status() == 409 && "USERNAME_TAKEN".equals(r.code())) {
                    // An earlier attempt committed but its answer was lost (the client timed out): it is ours.
                    return new Fan(index, userIdOf(username), username, run);
                }
                assertThat(r.status()).as("create user: %s", r.body()).isEqualTo(201);
                return new Fan(index, r.body().path("userId").asLong(), username, run);
            }));
        }
        List<Fan> fans = new ArrayList<>();
        for (Future<Fan> f : created) {
            fans.add(f.get(2, TimeUnit.MINUTES));
        }
        long requestsBefore = http.requests.get();

        // ---------------------------------------------------------------- watchers: cap and consumer group
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger maxActive = new AtomicInteger();
        AtomicLong activeSamples = new AtomicLong();
        AtomicInteger maxOwners = new AtomicInteger();
        Map<String, Integer> ownersSeen = new TreeMap<>();
        Future<?> sampler = pool.submit(() -> {
            while (running.get()) {
                Reply q = http.get("/api/v1/admin/queues/" + concertId, Map.of("X-Admin-Key", adminKey));
                if (q.ok()) {
                    maxActive.accumulateAndGet(q.body().path("active").asInt(), Math::max);
                    activeSamples.incrementAndGet();
                }
                Http.pause(100);
            }
        });
        Future<?> groupWatch = pool.submit(() -> {
            try (Admin kafka = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP))) {
                while (running.get()) {
                    try {
                        ConsumerGroupDescription g = kafka.describeConsumerGroups(List.of(GROUP)).describedGroups().get(GROUP)
                                .get(5, TimeUnit.SECONDS);
                        int owners = 0;
                        for (MemberDescription m : g.members()) {
                            if (!m.assignment().topicPartitions().isEmpty()) {
                                owners++;
                            }
                        }
                        maxOwners.accumulateAndGet(owners, Math::max);
                        synchronized (ownersSeen) {
                            ownersSeen.merge(owners + " owner(s)", 1, Integer::sum);
                        }
                    } catch (Exception e) {
                        // the group may not exist yet
                    }
                    Http.pause(1000);
                }
            }
        });

        // ---------------------------------------------------------------- the journey, and the kill
        Instant start = Instant.now();
        List<Future<?>> journeys = new ArrayList<>();
        for (Fan fan : fans) {
            journeys.add(pool.submit(fan::journey));
        }
        Map<String, Object> kill = new LinkedHashMap<>();
        Future<?> killer = !KILL ? java.util.concurrent.CompletableFuture.completedFuture(null) : pool.submit(() -> {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && !(run.paid().get() >= FANS / 8 && run.openStreams().get() >= 10)) {
                Http.pause(100);
            }
            long failuresBefore = http.failures.get();
            long requestsAtKill = http.requests.get();
            long killedAt = System.nanoTime();
            kill.put("at", Duration.between(start, Instant.now()).toMillis());
            kill.put("paidBefore", run.paid().get());
            kill.put("streamsOpen", run.openStreams().get());
            kill.put("rcKill", uncheckedFleet("kill", Integer.toString(KILLED)));
            Http.pause(5000); // down for a while: the balancer marks it down, the group rebalances
            long restartAt = System.nanoTime();
            kill.put("rcStart", uncheckedFleet("start", Integer.toString(KILLED)));
            long readyAt = System.nanoTime();
            // Rejoined: the balancer routes to it again (its readiness answered through the balancer).
            long rejoinedAt = -1;
            for (int i = 0; i < 600 && rejoinedAt < 0; i++) {
                Reply r = http.get("/actuator/health/readiness", Map.of());
                if (r.ok() && ("app" + KILLED).equals(r.servedBy())) {
                    rejoinedAt = System.nanoTime();
                }
                Http.pause(100);
            }
            kill.put("restartToReadyMs", (readyAt - restartAt) / 1_000_000);
            kill.put("restartToServingMs", rejoinedAt < 0 ? -1 : (rejoinedAt - restartAt) / 1_000_000);
            kill.put("downMs", rejoinedAt < 0 ? -1 : (rejoinedAt - killedAt) / 1_000_000);
            kill.put("failuresWhileDown", http.failures.get() - failuresBefore);
            kill.put("requestsWhileDown", http.requests.get() - requestsAtKill);
        });
        for (Future<?> j : journeys) {
            j.get(4, TimeUnit.MINUTES);
        }
        killer.get(3, TimeUnit.MINUTES);
        Duration journeyTime = Duration.between(start, Instant.now());
        running.set(false);
        sampler.get(10, TimeUnit.SECONDS);
        groupWatch.get(20, TimeUnit.SECONDS);
        pool.shutdown();

        List<String> failed = fans.stream().filter(f -> f.failure != null).map(f -> "fan " + f.index + ": " + f.failure).toList();
        long journeyRequests = http.requests.get() - requestsBefore;
        note("fans %d, journey %.1f s (%.1f journeys/s, %.0f requests/s), requests %d (setup %d), transit failures %d, by status %s, by instance %s",
                FANS, journeyTime.toMillis() / 1000.0, FANS * 1000.0 / journeyTime.toMillis(), journeyRequests * 1000.0 / journeyTime.toMillis(),
                journeyRequests, requestsBefore, http.failures.get(),
                new TreeMap<>(http.byStatus), new TreeMap<>(http.byServer));
        note("kill of instance %d: %s", KILLED, kill);
        note("failures per second of the run: %s", new TreeMap<>(http.failuresBySecond));
        note("streams opened %d, reconnects %d, places lost %s", fans.stream().mapToInt(f -> f.streamsOpened).sum(),
                run.reconnects().get(), run.placeLost());
        note("active count: max %d of cap %d over %d samples; consumer group owners seen %s", maxActive.get(), MAX_ACTIVE,
                activeSamples.get(), ownersSeen);

        assertThat(failed).as("every fan finished the journey").isEmpty();
        for (int i = 1; i <= INSTANCES; i++) {
            assertThat(http.byServer.keySet()).as("all instances served").contains("app" + i);
        }
        if (KILL) {
            assertThat(kill.get("rcKill")).isEqualTo(0);
            assertThat(kill.get("rcStart")).as("the killed instance restarts").isEqualTo(0);
            assertThat((Long) kill.get("restartToServingMs")).as("the restarted instance serves through the balancer again").isPositive();
        }

        // SPEC 4.7: never above the cap, sampled all along.
        assertThat(activeSamples.get()).isGreaterThan(20);
        assertThat(maxActive.get()).as("admissions never above the active cap").isBetween(1, MAX_ACTIVE);
        // SPEC 13: streams that broke with their instance reconnected elsewhere and kept their place.
        if (KILL) {
            assertThat(run.reconnects().get()).as("streams on the killed instance reconnected").isPositive();
        }
        assertThat(run.placeLost()).as("no stream went back in the queue").isEmpty();
        // Issue 12 item 6: the consumer group spread over the instances.
        assertThat(maxOwners.get()).as("more than one instance owned partitions").isGreaterThan(INSTANCES > 1 ? 1 : 0);

        loginThrottleCountsTheRealAddress();
        checkRulesInTheStore(fans, concertId, dateIds);
    }

    static long userIdOf(String username) throws SQLException {
        try (Connection c = db(); var q = c.prepareStatement("SELECT id FROM users WHERE username = ?")) {
            q.setString(1, username);
            try (ResultSet r = q.executeQuery()) {
                assertThat(r.next()).as("user %s exists", username).isTrue();
                return r.getLong(1);
            }
        }
    }

    int uncheckedFleet(String... args) {
        try {
            return fleet(args);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The balancer replaces any X-Forwarded-For a client sends, so a client cannot dodge the per-address
     * login throttle (30 per minute) by inventing addresses: 35 attempts "from" 35 addresses meet a 429. The password
     * has SPEC 11's form (8 to 72 bytes): a malformed one is a 400 before anything is counted.
     */
    void loginThrottleCountsTheRealAddress() {
        int tooMany = 0;
        for (int i = 0; i < 35; i++) {
            Reply r = http.send("POST", "/api/v1/auth/login", Map.of("username", "nobody-" + RUN + "-" + i, "password", "wrong-password"),
                    Map.of("X-Forwarded-For", "198.51.100." + (i + 1)));
            if (r.status() == 429) {
                tooMany++;
            }
        }
        note("login throttle: %d of 35 attempts with invented X-Forwarded-For answered 429", tooMany);
        assertThat(tooMany).as("a client-sent X-Forwarded-For does not create new addresses").isPositive();
    }

    /** SPEC 4.1, 4.3, 4.4, 4.6, 4.10, 4.11 in the database, the notification store and Kafka (faults.StoreCheck). */
    void checkRulesInTheStore(List<Fan> fans, long concertId, List<Long> dateIds) throws Exception {
        List<StoreCheck.FanRecord> records = fans.stream()
                .map(f -> new StoreCheck.FanRecord(f.userId, f.charged, Set.copyOf(f.paidReservations), Set.copyOf(f.refundedReservations)))
                .toList();
        StoreCheck check = new StoreCheck(dateIds, records,
                new StoreCheck.Kafka(BOOTSTRAP, TOPIC_PREFIX + "booking.payment.completed"), Duration.ofSeconds(90));
        try (Connection c = db(); Statement s = c.createStatement()) {
            StoreCheck.Result result = check.run(c);
            note("store check: %s", result.summary());
            assertThat(result.problems()).as("SPEC 4 rules in the stores").isEmpty();
            for (Fan f : fans) {
                long left = f.charged - f.paidReservations.stream().mapToLong(f.priceOf::get).sum();
                assertThat(left).as("fan %d: no negative balance", f.index).isNotNegative();
            }
            kafkaOrderPerKey(s, dateIds, result.payments());
        }
    }

    /**
     * Per-key order (issue 12 item 6): read the payment topic as any consumer does, and per key (concert
     * date) the events come in outbox order, all on one partition; keys spread over several partitions.
     */
    void kafkaOrderPerKey(Statement s, List<Long> dateIds, int payments) throws SQLException {
        Map<String, Long> outboxId = new HashMap<>();
        try (ResultSet r = s.executeQuery("SELECT event_id, id FROM outbox WHERE event_type = 'payment-completed' AND message_key IN ("
                + dateIds.stream().map(d -> "'" + d + "'").collect(Collectors.joining(",")) + ")")) {
            while (r.next()) {
                outboxId.put(r.getString(1), r.getLong(2));
            }
        }
        Set<String> keys = dateIds.stream().map(String::valueOf).collect(Collectors.toSet());
        List<ConsumerRecord<String, String>> records = KafkaTestClients.read(BOOTSTRAP, TOPIC_PREFIX + "booking.payment.completed",
                rec -> keys.contains(rec.key()),
                found -> found.stream().map(ConsumerRecord::value).distinct().count() >= payments, Duration.ofSeconds(30));
        Map<String, Set<Integer>> partitionsOfKey = new HashMap<>();
        Map<String, List<Long>> orderOfKey = new HashMap<>();
        Set<String> seen = new HashSet<>();
        int duplicates = 0;
        for (ConsumerRecord<String, String> rec : records) { // partition-then-offset order
            partitionsOfKey.computeIfAbsent(rec.key(), k -> new HashSet<>()).add(rec.partition());
            String eventId = Http.JSON.readTree(rec.value()).path("eventId").asString();
            if (!seen.add(eventId)) {
                duplicates++; // at-least-once delivery; the consumer absorbs it
                continue;
            }
            orderOfKey.computeIfAbsent(rec.key(), k -> new ArrayList<>()).add(outboxId.get(eventId));
        }
        Set<Integer> partitions = partitionsOfKey.values().stream().flatMap(Set::stream).collect(Collectors.toSet());
        note("kafka: %d payment events read (%d redelivered duplicates), %d keys over partitions %s",
                records.size(), duplicates, orderOfKey.size(), partitions);
        assertThat(seen).hasSize(payments);
        assertThat(partitionsOfKey.values()).as("a key stays on one partition").allMatch(p -> p.size() == 1);
        assertThat(partitions).as("keys spread over partitions").hasSizeGreaterThan(1);
        orderOfKey.forEach((key, ids) -> assertThat(ids).as("events of key %s in outbox order", key).isSorted());
    }
}
