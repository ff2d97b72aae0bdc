package com.concertbooking.faults;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import com.concertbooking.fleet.Http;
import com.concertbooking.fleet.Http.Reply;
import com.concertbooking.support.TestInfrastructure;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * SPEC 15 / issue 20: the database restarted under payments, and the connection pool starved by transactions
 * waiting on a lock. While it lasts fans get 503 DEPENDENCY_UNAVAILABLE with Retry-After (never a 500, never a
 * hung request), no payment is half done, and full service is back within seconds of recovery. The database is
 * a private MariaDB of this class (the shared one is never stopped); the checks read the stores (StoreCheck).
 */
@DirtiesContext
class DatabaseFaultsTest extends FaultTestSupport {

    static final String DATABASE = "booking_faults";
    static MariaDbProcess mariadb;
    static final Path DIR = MariaDbProcess.tempDir();

    @DynamicPropertySource
    static void privateDatabase(DynamicPropertyRegistry registry) {
        assumeThat(TestInfrastructure.useContainers()).as("local processes are used for fault injection").isFalse();
        assumeThat(MariaDbProcess.available()).as("mariadbd and mariadb-install-db (bin/infra up installs mariadb-server)").isTrue();
        mariadb = MariaDbProcess.start(DIR, LocalProcesses.freePort());
        mariadb.createDatabase(DATABASE);
        registry.add("BOOKING_DB_PORT", () -> mariadb.port());
        registry.add("BOOKING_DB_NAME", () -> DATABASE);
        registry.add("spring.data.redis.database", () -> redisDatabase(5));
        // Events of this class on topics and a consumer group of their own: the main test context's consumer (same
        // run id) would otherwise take some of them into the other database.
        registry.add("booking.test.events-id", () -> "faults-db-" + RUN_ID);
        registry.add("booking.events.relay.lag-interval", () -> "500ms");
    }

    @Autowired
    ConfigurableApplicationContext applicationContext;

    static boolean separated;

    @BeforeEach
    void once() {
        stopWithContext(applicationContext, "privateMariaDb", () -> {
            mariadb.stop();
            LocalProcesses.deleteTree(DIR);
        });
        if (!separated) {
            separateIds(mariadb, DATABASE);
            separated = true;
        }
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void restartUnderPaymentsAnswers503WithRetryAfterLosesNothingAndRecoversWithinSeconds() throws Exception {
        CreatedConcert concert = createConcert(60);
        List<Fan> fans = admittedFansHolding(concert, 41, 1_000_000, 1);
        Fan prober = fans.remove(40);
        Http http = http();
        long t0 = System.currentTimeMillis();
        List<Seen> seen = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(fans.size());
        long stoppedAt;
        long startedAt;
        List<Future<Reply>> payments = new ArrayList<>();
        try (Probe probe = new Probe(http, prober, t0)) {
            Http.pause(1000);
            for (Fan fan : fans) {
                payments.add(pool.submit(() -> {
                    Http.pause((long) (Math.random() * 6000)); // spread over the outage
                    return payUntilDefinitive(http, fan, Duration.ofSeconds(90), t0, seen);
                }));
            }
            Http.pause(1500);
            stoppedAt = System.currentTimeMillis() - t0;
            mariadb.stop();
            Http.pause(4000);
            long restartAt = System.currentTimeMillis() - t0;
            mariadb.start();
            startedAt = System.currentTimeMillis() - t0;
            System.out.printf("database down from %d ms to %d ms (stop %d ms, start %d ms)%n", stoppedAt, startedAt,
                    restartAt - stoppedAt - 4000, startedAt - restartAt);
            List<Reply> answers = new ArrayList<>();
            for (Future<Reply> f : payments) {
                answers.add(f.get(2, TimeUnit.MINUTES));
            }
            Http.pause(5000);
            probe.close();

            List<Seen> during = probe.between(stoppedAt + 500, startedAt);
            assertThat(during).as("the probe's answers while the database was down").isNotEmpty();
            assertThat(during).as("503 DEPENDENCY_UNAVAILABLE with Retry-After while the database is down")
                    .allMatch(s -> s.ok() || s.dependencyUnavailable());
            assertThat(during).anyMatch(Seen::dependencyUnavailable);
            onlyPromisedFailures(probe.seen);
            onlyPromisedFailures(seen);
            assertThat(seen).as("payments retried through the outage").anyMatch(Seen::dependencyUnavailable);
            long fullService = probe.fullServiceFrom(startedAt);
            System.out.printf("full service %d ms after the database answered again%n", fullService - startedAt);
            assertThat(fullService).as("full service after the restart").isNotNegative();
            assertThat(fullService - startedAt).as("ms from the database's return to full service").isLessThan(10_000);
            assertThat(answers).as("every payment completes once the database is back").allMatch(Reply::ok);
        } finally {
            pool.shutdownNow();
        }
        storeCheck(concert, fans, payments, prober);
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void poolStarvedByLockWaitsAnswers503WithRetryAfterAndRecoversWithinSeconds() throws Exception {
        CreatedConcert concert = createConcert(80);
        List<Fan> fans = admittedFansHolding(concert, 71, 1_000_000, 1);
        Fan prober = fans.remove(70);
        Http http = http();
        long t0 = System.currentTimeMillis();
        List<Seen> seen = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(fans.size());
        List<Future<Reply>> payments = new ArrayList<>();
        long lockedAt;
        long releasedAt;
        try (Probe probe = new Probe(http, prober, t0);
             Connection locker = mariadb.connect(DATABASE)) {
            Http.pause(1000);
            // A slow transaction elsewhere holds the row locks of these fans' balances: every payment's debit waits
            // on them, holding a pool connection (50) while it waits.
            locker.setAutoCommit(false);
            String ids = String.join(",", fans.stream().map(f -> Long.toString(f.userId())).toList());
            locker.createStatement().executeQuery("SELECT id FROM users WHERE id IN (" + ids + ") FOR UPDATE").close();
            lockedAt = System.currentTimeMillis() - t0;
            for (Fan fan : fans) {
                payments.add(pool.submit(() -> payUntilDefinitive(http, fan, Duration.ofSeconds(90), t0, seen)));
            }
            Http.pause(10_000);
            locker.rollback();
            releasedAt = System.currentTimeMillis() - t0;
            List<Reply> answers = new ArrayList<>();
            for (Future<Reply> f : payments) {
                answers.add(f.get(2, TimeUnit.MINUTES));
            }
            Http.pause(3000);
            probe.close();

            // The probe reads an unlocked row: it fails only because no connection is free.
            List<Seen> starved = probe.between(lockedAt + 4000, releasedAt);
            assertThat(starved).as("503 DEPENDENCY_UNAVAILABLE with Retry-After while the pool is starved")
                    .allMatch(s -> s.ok() || s.dependencyUnavailable())
                    .anyMatch(Seen::dependencyUnavailable);
            onlyPromisedFailures(probe.seen);
            onlyPromisedFailures(seen);
            long fullService = probe.fullServiceFrom(releasedAt);
            System.out.printf("pool starved from %d ms to %d ms; full service %d ms after the locks were released%n",
                    lockedAt, releasedAt, fullService - releasedAt);
            assertThat(fullService).isNotNegative();
            assertThat(fullService - releasedAt).as("ms from the release to full service").isLessThan(5_000);
            assertThat(answers).as("every payment completes after the release").allMatch(Reply::ok);
        } finally {
            pool.shutdownNow();
        }
        storeCheck(concert, fans, payments, prober);
    }

    /** Every fan started with 1,000,000 and was told of at most its one payment; the prober only read. */
    private void storeCheck(CreatedConcert concert, List<Fan> fans, List<Future<Reply>> payments, Fan prober) throws Exception {
        List<StoreCheck.FanRecord> records = new ArrayList<>();
        for (int i = 0; i < fans.size(); i++) {
            records.add(record(fans.get(i), 1_000_000, payments.get(i).get()));
        }
        records.add(record(prober, 1_000_000, null));
        StoreCheck check = new StoreCheck(concert.dateIds(), records,
                new StoreCheck.Kafka(applicationContext.getEnvironment().getProperty("booking.kafka.bootstrap-servers"),
                        paymentTopic(applicationContext)), Duration.ofSeconds(60));
        try (Connection c = mariadb.connect(DATABASE)) {
            StoreCheck.Result result = check.run(c);
            System.out.println("store check: " + result.summary());
            assertThat(result.problems()).isEmpty();
            assertThat(result.payments()).isEqualTo(records.stream().mapToInt(r -> r.paid().size()).sum());
        }
    }
}
