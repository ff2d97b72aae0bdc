package com.concertbooking.admin;

import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;

import com.concertbooking.support.BookingProperties;
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
 * Loads a few demo concerts (one in a 1,000-seat venue) and users with balance when
 * {@code booking.demo-data.enabled=true} (bin/run sets it), once: skipped when present.
 */
@Component
public class DemoData implements ApplicationRunner {

    private static final Logger log = LoggerFactory.getLogger(DemoData.class);
    static final String MARKER = "[demo] ";

    private final BookingProperties properties;
    private final DatabaseClient db;
    private final ConcertAdmin concerts;
    private final WalletStore wallets;
    private final Clock clock;

    public DemoData(BookingProperties properties, DatabaseClient db, ConcertAdmin concerts, WalletStore wallets, Clock clock) {
        this.properties = properties;
        this.db = db;
        this.concerts = concerts;
        this.wallets = wallets;
        this.clock = clock;
    }

    @Override
    public void run(ApplicationArguments args) {
        if (properties.demoData() == null || !properties.demoData().enabled()) {
            return;
        }
        loadIfMissing().subscribe(null, e -> log.error("loading demo data failed", e));
    }

    /** Loads the demo data unless it is already there. */
    public Mono<Void> loadIfMissing() {
        return db.sql("SELECT COUNT(*) AS n FROM concert WHERE name LIKE :marker").bind("marker", MARKER + "%")
                .map(r -> r.get("n", Long.class)).one()
                .flatMap(n -> n > 0 ? Mono.fromRunnable(() -> log.info("demo data already present")) : load());
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
        return Flux.fromIterable(demo).concatMap(concerts::create).then(
                Flux.range(1, 10).concatMap(i -> wallets.createUser("Demo fan " + i, 1_000_000L)).then())
                .doOnSuccess(v -> log.info("demo data loaded: {} concerts, 10 users with 1,000,000 won", demo.size()));
    }
}
