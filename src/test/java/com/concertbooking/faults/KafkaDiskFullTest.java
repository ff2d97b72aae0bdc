package com.concertbooking.faults;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.concertbooking.events.KafkaBrokerProcess;
import com.concertbooking.fleet.Http;
import com.concertbooking.fleet.Http.Reply;
import com.concertbooking.support.TestInfrastructure;
import io.micrometer.core.instrument.MeterRegistry;
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
 * SPEC 15 / issue 20, the original write-up's own incident: the Kafka broker's disk fills up. The broker's log
 * directory sits on a private 8 MB tmpfs that the test fills; payments go on (2xx, each with its outbox row), the
 * relay reports the failure (the metrics the alerts read), and when space is freed (and the broker, which halts
 * when its only log directory fails, is started again) every event is delivered exactly once to the topic's
 * readers and the notification store. Everything is private: broker, database, mount.
 */
@DirtiesContext
class KafkaDiskFullTest extends FaultTestSupport {

    static final String DATABASE = "booking_faults";
    static final Path DIR = Path.of("target", "faults-kafka-" + ProcessHandle.current().pid()).toAbsolutePath();
    static SmallDisk disk;
    static KafkaBrokerProcess broker;
    static MariaDbProcess mariadb;

    @DynamicPropertySource
    static void privateBrokerOnASmallDisk(DynamicPropertyRegistry registry) throws Exception {
        assumeThat(TestInfrastructure.useContainers()).as("local processes are used for fault injection").isFalse();
        String noDisk = SmallDisk.unavailableReason();
        assumeThat(noDisk).as("KafkaDiskFullTest NOT RUN: %s", noDisk).isNull();
        assumeThat(KafkaBrokerProcess.libs()).as("Kafka jars (bin/infra up fetches them)").isNotNull();
        assumeThat(MariaDbProcess.available()).as("mariadbd (bin/infra up installs mariadb-server)").isTrue();
        disk = SmallDisk.mount(DIR.resolve("disk"), 8);
        broker = KafkaBrokerProcess.startNew(DIR, disk.path().resolve("kafka-logs"));
        mariadb = MariaDbProcess.start(MariaDbProcess.tempDir(), LocalProcesses.freePort());
        mariadb.createDatabase(DATABASE);
        registry.add("booking.kafka.bootstrap-servers", broker::bootstrap);
        registry.add("BOOKING_DB_PORT", () -> mariadb.port());
        registry.add("BOOKING_DB_NAME", () -> DATABASE);
        registry.add("spring.data.redis.database", () -> redisDatabase(6));
        registry.add("booking.events.relay.backoff-max", () -> "2s");
        registry.add("booking.events.relay.delivery-timeout", () -> "8s");
        registry.add("booking.events.relay.lag-interval", () -> "500ms");
    }

    @Autowired
    ConfigurableApplicationContext applicationContext;
    @Autowired
    MeterRegistry meters;

    static boolean separated;

    @BeforeEach
    void once() {
        stopWithContext(applicationContext, "privateBrokerAndDisk", () -> {
            try {
                broker.kill();
                mariadb.stop();
                LocalProcesses.deleteTree(mariadb.dir());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            } finally {
                disk.close();
                LocalProcesses.deleteTree(DIR);
            }
        });
        if (!separated) {
            separateIds(mariadb, DATABASE);
            separated = true;
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void paymentsGoOnWhileTheBrokersDiskIsFullAndEveryEventArrivesOnceWhenSpaceIsBack() throws Exception {
        CreatedConcert concert = createConcert(70);
        List<Fan> fans = admittedFansHolding(concert, 61, 1_000_000, 1);
        Http http = http();
        long t0 = System.currentTimeMillis();
        List<Seen> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Reply> answers = new ArrayList<>();
        // Before: delivery works end to end.
        answers.add(payUntilDefinitive(http, fans.get(0), Duration.ofSeconds(30), t0, seen));
        LocalProcesses.await(Duration.ofSeconds(60), "first event delivered", () -> relayUnsent() == 0 && !relayFailing());

        long written = disk.fill();
        long filledAt = System.currentTimeMillis() - t0;
        System.out.printf("filled the broker's disk with %d KB (%d bytes left)%n", written / 1024, disk.usable());
        // 30 payments onto the full disk: every one succeeds.
        for (Fan fan : fans.subList(1, 31)) {
            answers.add(payUntilDefinitive(http, fan, Duration.ofSeconds(30), t0, seen));
        }
        LocalProcesses.await(Duration.ofSeconds(60), "the relay reports the failure", () -> relayFailing());
        long detectedAt = System.currentTimeMillis() - t0;
        assertThat(meters.get("booking.outbox.relay.failing").gauge().value()).isEqualTo(1.0);
        LocalProcesses.await(Duration.ofSeconds(10), "outbox lag visible", () -> relayUnsent() >= 30);
        boolean halted = !broker.alive();
        // 30 more while the broker is out of disk (or has halted because of it).
        for (Fan fan : fans.subList(31, 61)) {
            answers.add(payUntilDefinitive(http, fan, Duration.ofSeconds(30), t0, seen));
        }
        assertThat(answers).as("payments while Kafka's disk is full").allMatch(Reply::ok);
        onlyPromisedFailures(seen);
        assertThat(seen).as("no payment needed a retry").allMatch(Seen::ok);

        // Recovery: free the space; a broker that halted on its failed log directory is started again.
        disk.free();
        long freedAt = System.currentTimeMillis() - t0;
        halted = halted || !broker.alive();
        if (!broker.alive()) {
            broker.start();
        }
        LocalProcesses.await(Duration.ofSeconds(120), "outbox drained after the space came back",
                () -> relayUnsent() == 0 && !relayFailing());
        long drainedAt = System.currentTimeMillis() - t0;
        System.out.printf("disk full at %d ms, relay failing at %d ms (detected after %d ms), broker halted: %s, space freed at %d ms, "
                + "outbox drained %d ms later%n", filledAt, detectedAt, detectedAt - filledAt, halted, freedAt, drainedAt - freedAt);

        List<StoreCheck.FanRecord> records = new ArrayList<>();
        for (int i = 0; i < fans.size(); i++) {
            records.add(record(fans.get(i), 1_000_000, answers.get(i)));
        }
        StoreCheck check = new StoreCheck(concert.dateIds(), records,
                new StoreCheck.Kafka(broker.bootstrap(), paymentTopic(applicationContext)), Duration.ofSeconds(90));
        try (Connection c = mariadb.connect(DATABASE)) {
            StoreCheck.Result result = check.run(c);
            System.out.println("store check: " + result.summary());
            assertThat(result.problems()).isEmpty();
            assertThat(result.payments()).isEqualTo(61);
            assertThat(result.kafkaPaymentEvents()).isEqualTo(61);
        }
    }

    private long relayUnsent() {
        return (long) meters.get("booking.outbox.unsent").gauge().value();
    }

    /** The relay's own view of Kafka, as operators see it (the gauge behind the alert); the relay is the events module's. */
    private boolean relayFailing() {
        return meters.get("booking.outbox.relay.failing").gauge().value() == 1.0;
    }
}
