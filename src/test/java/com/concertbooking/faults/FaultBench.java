package com.concertbooking.faults;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import com.concertbooking.events.KafkaBrokerProcess;
import com.concertbooking.fleet.Http;
import com.concertbooking.fleet.Http.Reply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fault bench of issue 20 ({@code bin/faults <fault>}; not part of {@code bin/test}): the Gatling fan journey
 * ({@code gatling/.../FaultJourneySimulation}) at a steady open-model rate through HAProxy against a fleet of
 * {@code bin/fleet} instances, all on private dependencies (MariaDB, a Kafka broker, a Redis Cluster with
 * replicas) and a private Prometheus that scrapes the fleet every second and evaluates the repository's alert rules.
 * One fault is injected at {@code faults.at} seconds into the load and lifted {@code faults.for} seconds later.
 * Afterwards: a per-second table (answers by status, p99, fans paid, admissions, outbox lag, pool, alerts firing),
 * the alerts' timeline from Prometheus (ALERTS), the store checks (StoreCheck: nothing lost) and the places check,
 * written to {@code docs/faults/<fault>.csv} and {@code .md} ({@code faults.out}).
 *
 * <p>Faults: {@code kafka-disk-full} (the broker's log directory on a 16 MB tmpfs, filled; freed, and the halted
 * broker started again), {@code kafka-restart}, {@code db-restart} (MariaDB stopped and started),
 * {@code db-starve} (a transaction holds the row locks of the run's users and seats: payments and holds wait,
 * holding pool connections), {@code redis-failover} (the primary of the concert's slot SIGKILLed; started again
 * when lifted, as a replica) and {@code redis-restart} (every node SIGKILLed, started again from its AOF).
 */
class FaultBench {

    static final String FAULT = System.getProperty("faults.fault", "db-restart");
    static final int RATE = Integer.getInteger("faults.rate", 5);
    static final int SECS = Integer.getInteger("faults.secs", 150);
    static final int AT = Integer.getInteger("faults.at", 40);
    static final int FOR = Integer.getInteger("faults.for", 45);
    static final int INSTANCES = Integer.getInteger("faults.instances", 2);
    static final int PORT_BASE = Integer.getInteger("faults.portBase", 6450);
    static final int FLEET_PORT = Integer.getInteger("faults.fleetPort", 18580);
    static final int SETTLE = Integer.getInteger("faults.settle", 150);
    static final String LABEL = System.getProperty("faults.label", "");
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path STATE = ROOT.resolve("target/faults-bench/" + FAULT);
    static final Path OUT = ROOT.resolve(System.getProperty("faults.out", "docs/faults"));
    static final String DATABASE = "booking_faults";
    static final String RUN = Long.toString(System.currentTimeMillis(), 36);
    static final List<String> FAULTS = List.of("kafka-disk-full", "kafka-restart", "db-restart", "db-starve", "redis-failover", "redis-restart");

    MariaDbProcess mariadb;
    KafkaBrokerProcess broker;
    RedisClusterProcess cluster;
    SmallDisk disk;
    Process prometheus;
    Process gatling;
    Connection locker;
    int killedRedis = -1;
    final StringBuilder log = new StringBuilder();
    final Map<String, Long> marks = new TreeMap<>();

    void note(String format, Object... args) {
        String line = String.format(Locale.ROOT, format, args);
        System.out.println("[faults] " + line);
        log.append(line).append('\n');
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void run() throws Exception {
        assertThat(FAULTS).as("faults.fault").contains(FAULT);
        assertThat(AT + FOR).as("the fault is lifted before the arrivals end").isLessThan(SECS);
        LocalProcesses.deleteTree(STATE);
        Files.createDirectories(STATE);
        try {
            startDependencies();
            startFleet();
            startPrometheus();
            long[] concert = setUpConcert();
            runLoad(concert);
            settle();
            report(concert);
        } finally {
            tearDown();
        }
    }

    // ------------------------------------------------------------------ dependencies, fleet, Prometheus

    void startDependencies() throws Exception {
        mariadb = MariaDbProcess.start(STATE.resolve("mariadb"), PORT_BASE);
        mariadb.createDatabase(DATABASE);
        Path logDir = STATE.resolve("kafka/data");
        if (FAULT.equals("kafka-disk-full")) {
            String why = SmallDisk.unavailableReason();
            assertThat(why).as("the disk-full fault needs a small file system: %s", why).isNull();
            disk = SmallDisk.mount(STATE.resolve("disk"), Integer.getInteger("faults.diskMb", 16));
            logDir = disk.path().resolve("kafka-logs");
        }
        broker = KafkaBrokerProcess.startNew(STATE.resolve("kafka"), logDir);
        cluster = RedisClusterProcess.start(STATE.resolve("redis"), PORT_BASE + 3);
        note("dependencies: MariaDB 127.0.0.1:%d, Kafka %s (log dir %s), Redis Cluster %s", PORT_BASE, broker.bootstrap(), logDir,
                cluster.nodes());
    }

    Map<String, String> fleetEnv() {
        Map<String, String> e = new HashMap<>();
        e.put("BOOKING_FLEET_STATE", STATE.resolve("fleet").toString());
        e.put("BOOKING_FLEET_PORT", Integer.toString(FLEET_PORT));
        e.put("BOOKING_FLEET_STATS_PORT", Integer.toString(FLEET_PORT + 9));
        e.put("BOOKING_DB_HOST", "127.0.0.1");
        e.put("BOOKING_DB_PORT", Integer.toString(PORT_BASE));
        e.put("BOOKING_DB_NAME", DATABASE);
        e.put("BOOKING_DB_USER", MariaDbProcess.USER);
        e.put("BOOKING_DB_PASSWORD", MariaDbProcess.PASSWORD);
        e.put("BOOKING_KAFKA_BOOTSTRAP", broker.bootstrap());
        e.put("BOOKING_REDIS_HOST", "127.0.0.1");
        e.put("BOOKING_REDIS_PORT", Integer.toString(PORT_BASE + 3)); // bin/fleet checks that Redis answers
        e.put("BOOKING_REDIS_CLUSTER_NODES", cluster.nodes());
        e.put("BOOKING_FLEET_ARGS", "--spring.profiles.active=redis-cluster --springdoc.pre-loading-enabled=false "
                + System.getProperty("faults.appArgs", ""));
        if (System.getProperty("faults.javaOpts") != null) {
            e.put("BOOKING_FLEET_JAVA_OPTS", System.getProperty("faults.javaOpts"));
        }
        return e;
    }

    int fleet(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(ROOT.resolve("bin/fleet").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(STATE.resolve("fleet-command.log").toFile()));
        pb.environment().putAll(fleetEnv());
        Process p = pb.start();
        if (!p.waitFor(6, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("bin/fleet " + String.join(" ", args) + " did not finish");
        }
        return p.exitValue();
    }

    void startFleet() throws Exception {
        Instant t = Instant.now();
        assertThat(fleet("up", "--instances", Integer.toString(INSTANCES))).as("bin/fleet up (see %s)", STATE.resolve("fleet-command.log")).isZero();
        note("fleet of %d up in %d s (balancer 127.0.0.1:%d)", INSTANCES, Duration.between(t, Instant.now()).toSeconds(), FLEET_PORT);
    }

    void startPrometheus() throws Exception {
        String binary = System.getProperty("faults.prometheus",
                System.getProperty("user.home") + "/.cache/booking-service/promtool/prometheus");
        assertThat(Path.of(binary)).as("Prometheus (bin/infra prometheus fetches Debian's)").isExecutable();
        StringBuilder targets = new StringBuilder();
        for (int i = 1; i <= INSTANCES; i++) {
            targets.append(i > 1 ? ", " : "").append("\"127.0.0.1:").append(FLEET_PORT + i).append('"');
        }
        // The repository's rules as they are; scraped and evaluated every second so the timeline has 1 s resolution.
        Files.writeString(STATE.resolve("prometheus.yml"), """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - %s
                scrape_configs:
                  - job_name: booking-service
                    metrics_path: /actuator/prometheus
                    scrape_timeout: 900ms
                    static_configs:
                      - targets: [%s]
                        labels: {deployment: fleet}
                """.formatted(ROOT.resolve("infra/prometheus/alerts.yml"), targets));
        prometheus = new ProcessBuilder(binary, "--config.file=" + STATE.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + STATE.resolve("prometheus-data"), "--web.listen-address=127.0.0.1:" + (PORT_BASE + 9),
                "--storage.tsdb.retention.time=1d")
                .redirectErrorStream(true).redirectOutput(STATE.resolve("prometheus.log").toFile()).start();
        LocalProcesses.stopOnExit(prometheus, "prometheus");
        LocalProcesses.await(Duration.ofSeconds(30), "Prometheus ready", () -> new Http(prom()).get("/-/ready", Map.of()).ok());
        note("Prometheus %s on 127.0.0.1:%d, rules %s", binary, PORT_BASE + 9, ROOT.resolve("infra/prometheus/alerts.yml"));
    }

    String prom() {
        return "http://127.0.0.1:" + (PORT_BASE + 9);
    }

    String lb() {
        return "http://127.0.0.1:" + FLEET_PORT;
    }

    // ------------------------------------------------------------------ set-up and load

    /** One concert of 4 dates with seats for every fan and some to spare; admission at the arrival rate. @return concert id, date ids */
    long[] setUpConcert() throws Exception {
        String adminKey = Files.readString(STATE.resolve("fleet/admin-key")).trim();
        Http http = new Http(lb());
        int seatsPerDate = (RATE * SECS * 3 / 2) / 4 + 10;
        List<Map<String, Object>> dates = new ArrayList<>();
        for (int d = 0; d < 4; d++) {
            dates.add(Map.of("startsAt", Instant.now().plus(Duration.ofDays(30 + d)).truncatedTo(ChronoUnit.SECONDS).toString(),
                    "venue", "Fault Hall", "seats", List.of(Map.of("grade", "R", "price", 100_000, "count", seatsPerDate))));
        }
        Reply concert = http.send("POST", "/api/v1/admin/concerts", Map.of("name", "Faults " + FAULT + " " + RUN, "description", "issue 20",
                "dates", dates), Map.of("X-Admin-Key", adminKey));
        assertThat(concert.status()).as("create concert: %s", concert.body()).isEqualTo(201);
        long concertId = concert.body().path("concertId").asLong();
        List<Long> ids = new ArrayList<>();
        ids.add(concertId);
        concert.body().path("dates").forEach(d -> ids.add(d.path("concertDateId").asLong()));
        int admitPerTick = Integer.getInteger("faults.admitPerTick", Math.max(2, RATE));
        // The active cap bounds how many fans can wait on a lock at once: with the usual cap (60 at 5 fans/s) a starved
        // database never exhausts two instances' 100 connections, which is the queue protecting the database. To show
        // the exhaustion itself, db-starve raises the cap.
        int maxActive = Integer.getInteger("faults.maxActive", FAULT.equals("db-starve") ? RATE * 60 : RATE * 12);
        Reply policy = http.send("PUT", "/api/v1/admin/queues/" + concertId + "/policy", Map.of("admitPerTick", admitPerTick, "maxActive", maxActive),
                Map.of("X-Admin-Key", adminKey));
        assertThat(policy.ok()).as("policy: %s", policy.body()).isTrue();
        note("concert %d: dates %s with %d seats each; admission %d per tick, at most %d active", concertId, ids.subList(1, ids.size()),
                seatsPerDate, admitPerTick, maxActive);
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    long loadStart;

    void runLoad(long[] concert) throws Exception {
        String adminKey = Files.readString(STATE.resolve("fleet/admin-key")).trim();
        StringBuilder dates = new StringBuilder();
        for (int i = 1; i < concert.length; i++) {
            dates.append(i > 1 ? "," : "").append(concert[i]);
        }
        Path out = STATE.resolve("gatling");
        List<String> command = new ArrayList<>(List.of("mvn", "-B", "-f", ROOT.resolve("gatling/pom.xml").toString(), "gatling:test",
                "-Dgatling.simulationClass=bench.FaultJourneySimulation", "-DbaseUrl=" + lb(), "-DadminKey=" + adminKey,
                "-DconcertId=" + concert[0], "-DdateIds=" + dates, "-Drate=" + RATE, "-Dsecs=" + SECS, "-Dout=" + out, "-Drun=" + RUN,
                "-Dgatling.jvmArgs=-Xms256m,-Xmx768m,-XX:+UseParallelGC"));
        if (Boolean.getBoolean("faults.offline")) {
            command.add(1, "-o");
        }
        gatling = new ProcessBuilder(command).directory(ROOT.resolve("gatling").toFile()).redirectErrorStream(true)
                .redirectOutput(STATE.resolve("gatling.log").toFile()).start();
        LocalProcesses.stopOnExit(gatling, "gatling");
        Path started = out.resolve("load-started");
        LocalProcesses.await(Duration.ofMinutes(5), "Gatling set-up done (see " + STATE.resolve("gatling.log") + ")", () -> {
            if (!gatling.isAlive()) {
                throw new IllegalStateException("Gatling ended before the load; see " + STATE.resolve("gatling.log"));
            }
            return Files.exists(started);
        });
        loadStart = Long.parseLong(Files.readString(started).trim());
        note("load: %d fans/s for %d s from %s", RATE, SECS, Instant.ofEpochMilli(loadStart));
        sleepUntil(loadStart + AT * 1000L);
        inject();
        sleepUntil(loadStart + (AT + FOR) * 1000L);
        lift();
        if (!gatling.waitFor(SECS + 420L, TimeUnit.SECONDS)) {
            note("Gatling did not end in time: stopped");
            gatling.destroyForcibly();
        }
        mark("load ended");
    }

    static void sleepUntil(long epochMs) {
        long wait = epochMs - System.currentTimeMillis();
        if (wait > 0) {
            LocalProcesses.sleep(wait);
        }
    }

    void mark(String what) {
        long t = System.currentTimeMillis();
        marks.put(String.format("%08d %s", t - loadStart + 10_000_000, what), t);
        note("t=%.1f s: %s", (t - loadStart) / 1000.0, what);
    }

    void inject() throws Exception {
        mark("fault injected: " + FAULT);
        switch (FAULT) {
            case "kafka-disk-full" -> note("disk filled with %d KB", disk.fill() / 1024);
            case "kafka-restart" -> broker.stop();
            case "db-restart" -> mariadb.stop();
            case "db-starve" -> {
                // A transaction elsewhere locks every user row of the run and the dates' seats: holds and payments wait on
                // the locks, each holding a pool connection, until no connection is left for anything else.
                // Seats before users, the order in which a payment locks them (reservation, seat, balance): taken the
                // other way round, the locker and a payment deadlocked. A deadlock victim tries again.
                locker = mariadb.connect(DATABASE);
                locker.setAutoCommit(false);
                for (int attempt = 1; ; attempt++) {
                    try (Statement s = locker.createStatement()) {
                        s.executeQuery("SELECT id FROM seat WHERE concert_date_id IN (SELECT id FROM concert_date WHERE concert_id = "
                                + "(SELECT MAX(id) FROM concert)) FOR UPDATE").close();
                        s.executeQuery("SELECT id FROM users WHERE username LIKE 'fault-" + RUN + "-%' FOR UPDATE").close();
                        break;
                    } catch (java.sql.SQLTransactionRollbackException e) {
                        locker.rollback();
                        if (attempt == 5) {
                            throw e;
                        }
                    }
                }
            }
            case "redis-failover" -> {
                long concertId = concertIdOfRun();
                int slot = cluster.slotOf("{concert:" + concertId + "}");
                killedRedis = cluster.primaryOf(slot);
                cluster.kill(killedRedis);
                note("killed the primary %d of slot %d ({concert:%d})", killedRedis, slot, concertId);
            }
            case "redis-restart" -> cluster.ports().forEach(cluster::kill);
            default -> throw new IllegalStateException(FAULT);
        }
        mark("fault in place");
    }

    long concertIdOfRun() throws Exception {
        try (Connection c = mariadb.connect(DATABASE); Statement s = c.createStatement()) {
            return StoreCheck.count(s, "SELECT MAX(id) FROM concert");
        }
    }

    void lift() throws Exception {
        mark("fault lifted");
        switch (FAULT) {
            case "kafka-disk-full" -> {
                disk.free();
                if (!broker.alive()) {
                    note("the broker had halted (its only log directory failed): started again");
                    broker.start();
                }
            }
            case "kafka-restart" -> broker.start();
            case "db-restart" -> mariadb.start();
            case "db-starve" -> {
                locker.rollback();
                locker.close();
            }
            case "redis-failover" -> {
                cluster.restart(killedRedis);
                cluster.awaitHealthy(Duration.ofSeconds(60));
            }
            case "redis-restart" -> {
                cluster.ports().forEach(cluster::restart);
                cluster.awaitHealthy(Duration.ofSeconds(60));
            }
            default -> throw new IllegalStateException(FAULT);
        }
        mark("dependency back");
    }

    /** After the load: the outbox drains and the alerts clear (bounded by faults.settle seconds). */
    void settle() throws Exception {
        long deadline = System.currentTimeMillis() + SETTLE * 1000L;
        long pending = -1;
        while (System.currentTimeMillis() < deadline) {
            try (Connection c = mariadb.connect(DATABASE); Statement s = c.createStatement()) {
                pending = StoreCheck.count(s, "SELECT COUNT(*) FROM outbox WHERE status = 'PENDING'");
            }
            if (pending == 0) {
                break;
            }
            LocalProcesses.sleep(1000);
        }
        mark("outbox drained (" + pending + " pending)");
        while (System.currentTimeMillis() < deadline && !firingNow().isEmpty()) {
            LocalProcesses.sleep(2000);
        }
        mark("alerts firing at the end: " + firingNow());
    }

    Set<String> firingNow() {
        Reply r = new Http(prom()).get("/api/v1/query?query=" + enc("ALERTS{alertstate=\"firing\"}"), Map.of());
        Set<String> names = new TreeSet<>();
        if (r.ok()) {
            r.body().path("data").path("result").forEach(x -> names.add(x.path("metric").path("alertname").asString()));
        }
        return names;
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ the report

    /** One second of the run as the fans and Prometheus saw it. */
    static final class Second {
        int requests, ok, client, unavailable, otherServer, noAnswer, paid;
        List<Long> times = new ArrayList<>();
        Map<String, Double> series = new HashMap<>();
        Set<String> firing = new TreeSet<>();

        long p99() {
            if (times.isEmpty()) {
                return -1;
            }
            List<Long> sorted = times.stream().sorted().toList();
            return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * 0.99) - 1));
        }
    }

    void report(long[] concert) throws Exception {
        long end = System.currentTimeMillis();
        TreeMap<Long, Second> seconds = new TreeMap<>();
        for (long t = -5; t <= (end - loadStart) / 1000; t++) {
            seconds.put(t, new Second());
        }
        Path out = STATE.resolve("gatling");
        Map<String, Integer> byOutcomeDuringFault = new TreeMap<>();
        List<String> requestLines = Files.readAllLines(out.resolve("requests.csv"));
        for (String line : requestLines.subList(1, requestLines.size())) {
            String[] f = line.split(",", -1);
            long at = Long.parseLong(f[0]);
            Second s = seconds.get(Math.floorDiv(at - loadStart, 1000));
            if (s == null) {
                continue;
            }
            int status = Integer.parseInt(f[2]);
            boolean stream = f[1].startsWith("SSE");
            s.requests++;
            if (status >= 200 && status < 300) {
                s.ok++;
            } else if (status == 0) {
                s.noAnswer++;
            } else if (status == 503) {
                s.unavailable++;
            } else if (status >= 500) {
                s.otherServer++;
            } else {
                s.client++;
            }
            if (!stream && Long.parseLong(f[4]) >= 0) {
                s.times.add(Long.parseLong(f[4]));
            }
            if (at >= loadStart + AT * 1000L && at < loadStart + (AT + FOR) * 1000L) {
                byOutcomeDuringFault.merge(f[1] + " " + status + (f[3].isEmpty() ? "" : " " + f[3]), 1, Integer::sum);
            }
        }
        // Fans: what each one got; paid per second from the pay requests' 2xx.
        for (String line : requestLines.subList(1, requestLines.size())) {
            String[] f = line.split(",", -1);
            if (f[1].equals("POST /payments/pay") && f[2].startsWith("2")) {
                Second s = seconds.get(Math.floorDiv(Long.parseLong(f[0]) - loadStart, 1000));
                if (s != null) {
                    s.paid++;
                }
            }
        }
        Map<String, String> queries = new java.util.LinkedHashMap<>();
        queries.put("admitted/s", "sum(rate(booking_queue_admissions_total[5s]))");
        queries.put("waiting", "sum(booking_queue_waiting)");
        queries.put("outbox unsent", "max(booking_outbox_unsent_events)");
        queries.put("oldest unsent s", "max(booking_outbox_oldest_unsent_age_seconds)");
        queries.put("relay failing", "max(booking_outbox_relay_failing)");
        queries.put("pool pending", "sum(r2dbc_pool_pending_connections)");
        queries.put("pool acquired", "sum(r2dbc_pool_acquired_connections)");
        queries.put("503/s (server)", "sum(rate(booking_dependency_unavailable_total[5s]))");
        queries.put("up", "sum(up{job=\"booking-service\"})");
        long from = loadStart / 1000 - 5;
        long to = end / 1000;
        for (var q : queries.entrySet()) {
            for (JsonNode series : range(q.getValue(), from, to)) {
                for (JsonNode v : series.path("values")) {
                    Second s = seconds.get(v.get(0).asLong() - loadStart / 1000);
                    if (s != null) {
                        s.series.put(q.getKey(), Double.parseDouble(v.get(1).asString()));
                    }
                }
            }
        }
        // Alerts: every (alert, state) series over the run, second by second.
        Map<String, long[]> pendingSpan = new TreeMap<>();
        Map<String, long[]> firingSpan = new TreeMap<>();
        for (JsonNode series : range("ALERTS", from, to)) {
            String name = series.path("metric").path("alertname").asString();
            String labels = series.path("metric").path("dependency").isMissingNode() ? "" : "{" + series.path("metric").path("dependency").asString() + "}";
            String state = series.path("metric").path("alertstate").asString();
            Map<String, long[]> spans = state.equals("firing") ? firingSpan : pendingSpan;
            for (JsonNode v : series.path("values")) {
                long t = v.get(0).asLong() - loadStart / 1000;
                long[] span = spans.computeIfAbsent(name + labels, k -> new long[] {Long.MAX_VALUE, Long.MIN_VALUE});
                span[0] = Math.min(span[0], t);
                span[1] = Math.max(span[1], t);
                if (state.equals("firing") && seconds.get(t) != null) {
                    seconds.get(t).firing.add(name + labels);
                }
            }
        }

        // The table.
        List<String> csv = new ArrayList<>();
        csv.add("t_s,phase,requests,2xx,4xx,503,other_5xx,no_answer,p99_ms,paid,admitted_per_s,waiting,outbox_unsent,oldest_unsent_s,"
                + "relay_failing,pool_pending,pool_acquired,server_503_per_s,instances_up,alerts_firing");
        for (var e : seconds.entrySet()) {
            long t = e.getKey();
            Second s = e.getValue();
            String phase = t < AT ? "before" : t < AT + FOR ? "FAULT" : "after";
            csv.add(String.join(",", Long.toString(t), phase, Integer.toString(s.requests), Integer.toString(s.ok), Integer.toString(s.client),
                    Integer.toString(s.unavailable), Integer.toString(s.otherServer), Integer.toString(s.noAnswer), Long.toString(s.p99()),
                    Integer.toString(s.paid), num(s, "admitted/s"), num(s, "waiting"), num(s, "outbox unsent"), num(s, "oldest unsent s"),
                    num(s, "relay failing"), num(s, "pool pending"), num(s, "pool acquired"), num(s, "503/s (server)"), num(s, "up"),
                    String.join(";", s.firing)));
        }
        Files.createDirectories(OUT);
        Path table = OUT.resolve(FAULT + ".csv");
        Files.write(table, csv);

        // Recovery: the first second after the lift from which 10 seconds in a row had no 5xx and no unanswered request.
        long recoveredAt = -1;
        List<Long> after = seconds.keySet().stream().filter(t -> t >= AT + FOR).toList();
        for (int i = 0; i + 10 <= after.size() && recoveredAt < 0; i++) {
            boolean clean = true;
            for (int j = i; j < i + 10; j++) {
                Second s = seconds.get(after.get(j));
                clean &= s.unavailable + s.otherServer + s.noAnswer == 0;
            }
            if (clean) {
                recoveredAt = after.get(i);
            }
        }
        long firstFailure = seconds.entrySet().stream().filter(e -> e.getKey() >= AT)
                .filter(e -> e.getValue().unavailable + e.getValue().otherServer + e.getValue().noAnswer > 0)
                .mapToLong(Map.Entry::getKey).findFirst().orElse(-1);
        long lastFailure = seconds.entrySet().stream().filter(e -> e.getKey() >= AT)
                .filter(e -> e.getValue().unavailable + e.getValue().otherServer + e.getValue().noAnswer > 0)
                .mapToLong(Map.Entry::getKey).max().orElse(-1);

        // Nothing lost: the stores, and the fans' places.
        List<String> fanLines = Files.readAllLines(out.resolve("fans.csv"));
        Map<Long, Set<Long>> paidOf = new HashMap<>();
        Map<String, Integer> outcomes = new TreeMap<>();
        List<String> placesLost = new ArrayList<>();
        for (String line : fanLines.subList(1, fanLines.size())) {
            String[] f = line.split(",", -1);
            long user = Long.parseLong(f[0]);
            paidOf.computeIfAbsent(user, k -> new HashSet<>());
            if (f[2].equals("1")) {
                paidOf.get(user).add(Long.parseLong(f[1]));
            }
            outcomes.merge(f[3], 1, Integer::sum);
            int join = Integer.parseInt(f[4]);
            int later = Integer.parseInt(f[5]);
            if (f[3].equals("expired while waiting") || f[3].equals("never admitted") || join > 0 && later > join) {
                placesLost.add("user " + user + ": " + f[3] + ", joined at " + join + ", later " + later);
            }
        }
        long balance = 1_000_000;
        List<StoreCheck.FanRecord> records = paidOf.entrySet().stream()
                .map(e -> new StoreCheck.FanRecord(e.getKey(), balance, e.getValue(), Set.of())).toList();
        List<Long> dateIds = new ArrayList<>();
        for (int i = 1; i < concert.length; i++) {
            dateIds.add(concert[i]);
        }
        StoreCheck.Result result;
        try (Connection c = mariadb.connect(DATABASE)) {
            result = new StoreCheck(dateIds, records, new StoreCheck.Kafka(broker.bootstrap(), "booking.payment.completed"),
                    Duration.ofSeconds(60)).run(c);
        }
        long reconnects = fanLines.stream().skip(1).mapToLong(l -> Long.parseLong(l.split(",", -1)[6])).sum();

        // The summary.
        List<String> md = new ArrayList<>();
        md.add("# Fault bench: " + FAULT + (LABEL.isEmpty() ? "" : " (" + LABEL + ")"));
        md.add("");
        md.add("- Run " + RUN + " at " + Instant.ofEpochMilli(loadStart) + ", commit " + git("rev-parse", "--short", "HEAD")
                + (git("status", "--porcelain", "--", "src", "gatling", "infra", "bin").isBlank() ? "" : " (with uncommitted changes)"));
        md.add("- Command: `bin/faults " + FAULT + " --rate " + RATE + " --secs " + SECS + " --at " + AT + " --for " + FOR
                + " --instances " + INSTANCES + "`");
        md.add("- Load: " + RATE + " new fans/s (open model) for " + SECS + " s through HAProxy to " + INSTANCES
                + " instances; the fault from t=" + AT + " s to t=" + (AT + FOR) + " s; machine load average at the end "
                + Files.readString(Path.of("/proc/loadavg")).trim().split(" ")[0] + " on " + Runtime.getRuntime().availableProcessors() + " cores");
        md.add("- Per-second table: `" + ROOT.relativize(table) + "`; raw files: `" + ROOT.relativize(STATE) + "/`");
        md.add("");
        md.add("## Timeline (seconds from the start of the load)");
        md.add("");
        md.add("| t (s) | event |");
        md.add("|---|---|");
        marks.forEach((k, v) -> md.add(String.format(Locale.ROOT, "| %.1f | %s |", (v - loadStart) / 1000.0, k.substring(9))));
        md.add(String.format(Locale.ROOT, "| %d | first second with a 5xx or an unanswered request |", firstFailure));
        md.add(String.format(Locale.ROOT, "| %d | last second with a 5xx or an unanswered request |", lastFailure));
        md.add(String.format(Locale.ROOT, "| %d | recovered: from here (the lift or later) 10 s in a row without 5xx or unanswered requests |",
                recoveredAt));
        md.add("");
        md.add("## Alerts (Prometheus evaluating infra/prometheus/alerts.yml every second)");
        md.add("");
        md.add("| alert | pending from | firing from | firing until | detect (firing - fault start) |");
        md.add("|---|---|---|---|---|");
        Set<String> alerts = new TreeSet<>(pendingSpan.keySet());
        alerts.addAll(firingSpan.keySet());
        for (String a : alerts) {
            long[] p = pendingSpan.get(a);
            long[] f = firingSpan.get(a);
            md.add("| " + a + " | " + (p == null ? "-" : p[0]) + " | " + (f == null ? "never" : f[0]) + " | " + (f == null ? "-" : f[1])
                    + " | " + (f == null ? "-" : (f[0] - AT) + " s") + " |");
        }
        if (alerts.isEmpty()) {
            md.add("| (none) | | | | |");
        }
        md.add("");
        Set<String> stillFiring = firingNow();
        md.add("Still firing when the run ended: " + stillFiring);
        md.add("");
        md.add("Expected by the runbook (docs/incident-response.md) for this fault and duration:");
        md.add("");
        md.add("| alert | expected within (s of the fault's start) | fired after | |");
        md.add("|---|---|---|---|");
        List<String> alertProblems = new ArrayList<>();
        expectedAlerts().forEach((alert, within) -> {
            long[] f = firingSpan.get(alert);
            boolean ok = f != null && f[0] - AT <= within;
            md.add("| " + alert + " | " + within + " | " + (f == null ? "never" : (f[0] - AT) + " s") + " | " + (ok ? "ok" : "LATE") + " |");
            if (!ok) {
                alertProblems.add(alert + " did not fire within " + within + " s");
            }
        });
        if (!stillFiring.isEmpty()) {
            alertProblems.add("still firing " + SETTLE + " s after the load: " + stillFiring);
        }
        md.add("");
        md.add("## What fans saw while the fault lasted (t=" + AT + ".." + (AT + FOR) + " s)");
        md.add("");
        md.add("| request, status, code | answers |");
        md.add("|---|---|");
        byOutcomeDuringFault.forEach((k, v) -> md.add("| " + k + " | " + v + " |"));
        md.add("");
        md.add("p99 (ms) before / during / after the fault: " + p99Between(seconds, -5, AT) + " / " + p99Between(seconds, AT, AT + FOR)
                + " / " + p99Between(seconds, AT + FOR, Long.MAX_VALUE) + "; other 5xx (not 503) in the whole run: "
                + seconds.values().stream().mapToInt(s -> s.otherServer).sum());
        md.add("");
        md.add("## Nothing lost");
        md.add("");
        md.add("- Fans' journeys: " + outcomes + "; stream reconnects " + reconnects);
        md.add("- Places lost (expired or never admitted, or a position later behind the one given at join): " + placesLost.size()
                + (placesLost.isEmpty() ? "" : " " + placesLost.subList(0, Math.min(10, placesLost.size()))));
        md.add("- Stores (StoreCheck): " + result.summary());
        Path summary = OUT.resolve(FAULT + ".md");
        Files.write(summary, md);
        note("written %s and %s", ROOT.relativize(table), ROOT.relativize(summary));
        md.forEach(System.out::println);

        assertThat(result.problems()).as("nothing lost in the stores").isEmpty();
        assertThat(alertProblems).as("alerts fire within the runbook's times and clear").isEmpty();
        assertThat(placesLost).as("no fan lost their place").isEmpty();
        assertThat(seconds.values().stream().mapToInt(s -> s.otherServer).sum()).as("5xx other than 503").isZero();
    }

    /**
     * The alerts the runbook promises for this fault, with the seconds within which each fires, counted from the
     * fault's start; an alert is expected only when the fault lasts long enough for it (a 15 s smoke fault pages nothing).
     */
    static Map<String, Integer> expectedAlerts() {
        Map<String, Integer> expected = new java.util.LinkedHashMap<>();
        switch (FAULT) {
            case "kafka-disk-full", "kafka-restart" -> {
                if (FOR >= 90) {
                    expected.put("OutboxRelayFailing", 90);
                    expected.put("KafkaSendErrors", 90);
                }
                if (FOR >= 120) {
                    expected.put("KafkaDeliveryStalled", 120);
                }
            }
            case "db-restart" -> {
                expected.put("DependencyErrors{database}", 15);
                if (FOR >= 45) {
                    expected.put("DatabaseUnavailable", 45);
                }
            }
            case "db-starve" -> {
                if (FOR >= 40) {
                    expected.put("DependencyErrors{database}", FOR);
                }
            }
            case "redis-failover" -> expected.put("DependencyErrors{redis}", 15);
            case "redis-restart" -> {
                expected.put("DependencyErrors{redis}", 15);
                if (FOR >= 45) {
                    expected.put("RedisSlowOrDown", 45);
                }
            }
            default -> throw new IllegalStateException(FAULT);
        }
        return expected;
    }

    static String num(Second s, String key) {
        Double v = s.series.get(key);
        return v == null ? "" : v == Math.rint(v) ? Long.toString(v.longValue()) : String.format(Locale.ROOT, "%.2f", v);
    }

    static String p99Between(TreeMap<Long, Second> seconds, long from, long to) {
        List<Long> all = new ArrayList<>();
        seconds.subMap(from, true, Math.min(to, Long.MAX_VALUE - 1), false).values().forEach(s -> all.addAll(s.times));
        if (all.isEmpty()) {
            return "-";
        }
        all.sort(null);
        return Long.toString(all.get(Math.min(all.size() - 1, (int) Math.ceil(all.size() * 0.99) - 1)));
    }

    List<JsonNode> range(String query, long from, long to) {
        Reply r = new Http(prom()).get("/api/v1/query_range?query=" + enc(query) + "&start=" + from + "&end=" + to + "&step=1", Map.of());
        List<JsonNode> out = new ArrayList<>();
        if (r.ok()) {
            r.body().path("data").path("result").forEach(out::add);
        } else {
            note("Prometheus query %s failed: %s %s", query, r.status(), r.body());
        }
        return out;
    }

    static String git(String... args) {
        List<String> command = new ArrayList<>(List.of("git"));
        command.addAll(List.of(args));
        return LocalProcesses.run(Duration.ofSeconds(10), command.toArray(String[]::new)).trim();
    }

    void tearDown() {
        if (gatling != null && gatling.isAlive()) {
            gatling.destroyForcibly();
        }
        try {
            fleet("down");
        } catch (Exception e) {
            note("bin/fleet down failed: %s", e);
        }
        LocalProcesses.stop(prometheus, Duration.ofSeconds(10));
        try {
            if (broker != null) {
                broker.kill();
            }
        } catch (Exception e) {
            note("broker: %s", e);
        }
        if (cluster != null) {
            cluster.close();
        }
        if (mariadb != null) {
            mariadb.stop();
        }
        if (disk != null) {
            disk.close();
        }
        try {
            Files.writeString(STATE.resolve("bench.log"), log.toString());
        } catch (IOException e) {
            // the console has it
        }
    }
}
