package com.concertbooking.admin;

import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;

import com.concertbooking.auth.Passwords;
import com.concertbooking.wallet.WalletStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Loads a few demo concerts (one in a 1,000-seat venue) and fans fan1..fan10 with 1,000,000 won and a password when
 * {@code booking.demo-data.enabled=true} (bin/run sets it), once: skipped when present.
 */
@Component
class DemoData implements ApplicationRunner {

    private static final Logger log = LoggerFactory.getLogger(DemoData.class);
    static final String MARKER = "[demo] ";
    static final int DEMO_FANS = 10;

    private final DemoDataProperties properties;
    private final DatabaseClient db;
    private final ConcertAdmin concerts;
    private final WalletStore wallets;
    private final Clock clock;
    private final Passwords passwords;

    public DemoData(DemoDataProperties properties, DatabaseClient db, ConcertAdmin concerts, WalletStore wallets, Clock clock,
                    Passwords passwords) {
        this.passwords = passwords;
        this.properties = properties;
        this.db = db;
        this.concerts = concerts;
        this.wallets = wallets;
        this.clock = clock;
    }

    @Override
    public void run(ApplicationArguments args) {
        if (!properties.enabled()) {
            return;
        }
        loadIfMissing().subscribe(null, e -> log.error("loading demo data failed", e));
    }

    /** Loads the demo data unless it is already there. */
    public Mono<Void> loadIfMissing() {
        return db.sql("SELECT COUNT(*) AS n FROM concert WHERE name LIKE :marker").bind("marker", MARKER + "%")
                .map(r -> r.get("n", Long.class)).one()
                .flatMap(n -> n > 0 ? Mono.fromRunnable(() -> log.info("demo concerts already present")) : load())
                .then(demoFans());
    }

    /** fan1..fan10 with the demo password (bin/run prints it); present ones get that password again. */
    private Mono<Void> demoFans() {
        String password = properties.password();
        return passwords.hash(password).flatMap(hash -> Flux.range(1, DEMO_FANS)
                .concatMap(i -> wallets.createUser("fan" + i, hash, 1_000_000L).then()
                        .onErrorResume(org.springframework.dao.DuplicateKeyException.class,
                                e -> wallets.setPasswordHash("fan" + i, hash).then()))
                .then())
                .doOnSuccess(v -> log.info("demo fans fan1..fan{} can sign in with the demo password", DEMO_FANS));
    }

    private Mono<Void> load() {
        var day = clock.instant().truncatedTo(ChronoUnit.HOURS).plus(Duration.ofDays(30));
        var arena = List.of(new ConcertAdmin.SeatBlock("VIP", 150_000L, 100), new ConcertAdmin.SeatBlock("R", 120_000L, 300),
                new ConcertAdmin.SeatBlock("S", 90_000L, 600));
        var hall = List.of(new ConcertAdmin.SeatBlock("R", 80_000L, 50), new ConcertAdmin.SeatBlock("S", 50_000L, 150));
        var demo = List.of(
                new ConcertAdmin.CreateConcert(MARKER + "Winter Lights Live", "The opening night everyone queues for.", List.of(
                        new ConcertAdmin.DateSpec(day, "Olympic Hall (1,000 seats)", arena),
                        new ConcertAdmin.DateSpec(day.plus(Duration.ofDays(1)), "Olympic Hall (1,000 seats)", arena))),
                new ConcertAdmin.CreateConcert(MARKER + "Jazz at Midnight", "An intimate late show.", List.of(
                        new ConcertAdmin.DateSpec(day.plus(Duration.ofDays(7)), "Blue Note Hall", hall))),
                new ConcertAdmin.CreateConcert(MARKER + "Spring Orchestra", "Symphonic season opener.", List.of(
                        new ConcertAdmin.DateSpec(day.plus(Duration.ofDays(14)), "City Concert Hall", hall),
                        new ConcertAdmin.DateSpec(day.plus(Duration.ofDays(15)), "City Concert Hall", hall))));
        return Flux.fromIterable(demo).concatMap(concerts::create).then()
                .doOnSuccess(v -> log.info("demo data loaded: {} concerts", demo.size()));
    }
}
