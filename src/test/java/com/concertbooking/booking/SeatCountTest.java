package com.concertbooking.booking;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import com.concertbooking.booking.ReservationService.HoldCommand;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.support.ApiException;
import org.junit.jupiter.api.Test;
import org.springframework.test.context.TestPropertySource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Free-seat counts (issue 18 item 2, seat_count) stay equal to a full recount of the seats through hundreds of racing
 * holds, payments, cancels, refunds and expiries: {@code free} is the number of AVAILABLE seats at every moment (a
 * hold that ran out is given back by the sweeper), {@code sold} the number of SOLD ones, per date, grade and slot.
 */
@TestPropertySource(properties = {"booking.reservation.hold-duration=4s", "booking.reservation.sweep-batch=50"})
class SeatCountTest extends BookingTestBase {

    private static final int SEATS = 120;
    private static final int USERS = 60;

    /** grade/slot -> [free, sold] as counted by the seat owner. */
    private Map<String, List<Long>> counts(long dateId) {
        return new TreeMap<>(db.sql("SELECT grade, slot, free, sold FROM seat_count WHERE concert_date_id = :d").bind("d", dateId)
                .map(r -> Map.entry(r.get("grade", String.class) + "/" + r.get("slot", Integer.class),
                        List.of(((Number) r.get("free")).longValue(), ((Number) r.get("sold")).longValue())))
                .all().collectMap(Map.Entry::getKey, Map.Entry::getValue).block());
    }

    /** The same, recounted from every seat of the date. */
    private Map<String, List<Long>> recount(long dateId) {
        return new TreeMap<>(db.sql("SELECT grade, seat_number MOD 8 AS slot, SUM(status = 'AVAILABLE') AS free, SUM(status = 'SOLD') AS sold "
                        + "FROM seat WHERE concert_date_id = :d GROUP BY grade, seat_number MOD 8").bind("d", dateId)
                .map(r -> Map.entry(r.get("grade", String.class) + "/" + ((Number) r.get("slot")).intValue(),
                        List.of(((Number) r.get("free")).longValue(), ((Number) r.get("sold")).longValue())))
                .all().collectMap(Map.Entry::getKey, Map.Entry::getValue).block());
    }

    private Mono<Reservation> tryHold(long user, CreatedConcert concert, int seat) {
        return reservations.hold(pass(user, concert.concertId()), new HoldCommand(user, concert.firstDateId(), seat, null))
                .onErrorResume(ApiException.class, e -> Mono.empty());
    }

    private <T> Mono<T> quietly(Mono<T> call) {
        return call.onErrorResume(ApiException.class, e -> Mono.empty());
    }

    /** The sweeper's batches until none is left (one batch at a time: a loaded machine may take long for many). */
    private int sweepAll() {
        int total = 0;
        for (int n; (n = reservations.sweepOnce().block(Duration.ofMinutes(1))) > 0; ) {
            total += n;
        }
        return total;
    }

    @Test
    void countsEqualAFullRecountAfterRacingHoldsPaysCancelsAndExpiries() throws InterruptedException {
        sweepAll(); // earlier tests' lapsed holds: out of the way
        CreatedConcert concert = createConcert(SEATS);
        long date = concert.firstDateId();
        allowTickets(concert.concertId(), 50);
        List<Long> users = createUsers(USERS, 100_000_000);
        assertThat(counts(date)).as("created with its counts").isEqualTo(recount(date));
        assertThat(counts(date).values().stream().mapToLong(c -> c.get(0)).sum()).isEqualTo(SEATS);
        Random random = new Random(18);

        // 480 hold attempts on 120 seats, 4 per user, all at once (many on the same seats); each hold that succeeds
        // goes on at once to one of: a payment, a payment then a refund, a cancel, a payment racing a cancel, nothing
        // (it runs out). Fresh holds race all of that, on seats just given back or never taken.
        List<long[]> attempts = new ArrayList<>();
        for (long user : users) {
            for (int i = 0; i < 4; i++) {
                attempts.add(new long[] {user, 1 + random.nextInt(SEATS), random.nextInt(5)});
            }
        }
        List<Reservation> held = Collections.synchronizedList(new ArrayList<>());
        Flux.fromIterable(attempts)
                .flatMap(a -> tryHold(a[0], concert, (int) a[1]).flatMap(r -> {
                    held.add(r);
                    Mono<?> pay = quietly(payments.pay(pass(r.userId(), r.concertId()), new PaymentService.PayCommand(r.reservationId(), r.userId(), null)));
                    Mono<?> cancel = quietly(reservations.cancel(r.reservationId(), r.userId()));
                    return switch ((int) a[2]) {
                        case 0 -> pay;
                        case 1 -> pay.then(cancel);
                        case 2 -> cancel;
                        case 3 -> Mono.when(pay, cancel);
                        default -> Mono.empty();
                    };
                }).then(), 64)
                .then().block(Duration.ofMinutes(2));
        assertThat(held).isNotEmpty();
        assertThat(counts(date)).as("after racing holds, payments, refunds and cancels").isEqualTo(recount(date));
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status = 'SOLD'", date)).as("some seats sold").isPositive();

        Flux.range(0, 150).flatMap(i -> tryHold(users.get(random.nextInt(USERS)), concert, 1 + random.nextInt(SEATS)), 64)
                .then().block(Duration.ofMinutes(2));
        assertThat(counts(date)).as("after more racing holds").isEqualTo(recount(date));

        // Every live hold runs out (4 s). Lapsed holds are counted as taken until swept; some are taken again first,
        // straight from their lapsed state (not given back, not taken twice), racing the sweep itself.
        Instant lastHeld = Instant.now().plusSeconds(4);
        while (Instant.now().isBefore(lastHeld.plusMillis(200))) {
            Thread.sleep(100);
        }
        long lapsed = count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status = 'HELD'", date);
        assertThat(lapsed).as("holds left to run out").isPositive();
        assertThat(counts(date)).as("lapsed, not yet swept").isEqualTo(recount(date));
        List<Integer> lapsedSeats = db.sql("SELECT seat_number FROM seat WHERE concert_date_id = :d AND status = 'HELD'").bind("d", date)
                .map(r -> r.get("seat_number", Integer.class)).all().collectList().block();
        Flux<Object> retakes = Flux.fromIterable(lapsedSeats).index()
                .flatMap(t -> tryHold(users.get((int) (t.getT1() % USERS)), concert, t.getT2()), 32).cast(Object.class);
        Flux.merge(retakes, Mono.fromCallable(this::sweepAll).subscribeOn(reactor.core.scheduler.Schedulers.boundedElastic()))
                .then().block(Duration.ofMinutes(1));
        assertThat(counts(date)).as("after retakes of lapsed holds racing the sweep").isEqualTo(recount(date));

        // Everything runs out and is swept: the counts are the seats that are not sold.
        Thread.sleep(4_300);
        sweepAll();
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status = 'HELD'", date)).isZero();
        assertThat(counts(date)).as("after every expiry was swept").isEqualTo(recount(date));
        long sold = count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status = 'SOLD'", date);
        assertThat(sold).as("some seats were sold").isPositive();
        assertThat(counts(date).values().stream().mapToLong(c -> c.get(0)).sum()).isEqualTo(SEATS - sold);
    }

    /**
     * A payment of several (SPEC 3) sells its seats in one statement and moves their count rows in another: seats n,
     * n+8 and n+16 share one count row (slot = number MOD 8), which must move by three, not once. Half the payments race
     * a cancel of one of their seats (then all or nothing is sold), and some paid seats are refunded one by one.
     */
    @Test
    void paymentsOfSeveralSeatsSharingACountRowKeepTheCounts() {
        CreatedConcert concert = createConcert(SEATS);
        long date = concert.firstDateId();
        allowTickets(concert.concertId(), 10);
        List<Long> users = createUsers(SEATS / 24 * 8, 100_000_000);
        List<List<Reservation>> sets = Collections.synchronizedList(new ArrayList<>());
        for (int u = 0; u < users.size(); u++) {
            int first = 1 + (u / 8) * 24 + u % 8; // u's three seats: first, first + 8, first + 16 (one count row)
            long user = users.get(u);
            List<Reservation> set = Flux.just(first, first + 8, first + 16).concatMap(n -> tryHold(user, concert, n)).collectList().block();
            assertThat(set).hasSize(3);
            sets.add(set);
        }
        Flux.range(0, sets.size()).flatMap(i -> {
            List<Reservation> set = sets.get(i);
            Reservation one = set.get(0);
            Mono<?> pay = quietly(payments.pay(pass(one.userId(), one.concertId()), new PaymentService.PayCommand(
                    set.stream().map(Reservation::reservationId).toList(), one.userId(), null)));
            Mono<?> cancel = quietly(reservations.cancel(set.get(1).reservationId(), one.userId()));
            return (i % 2 == 0 ? Mono.when(pay, cancel) : pay.then(quietly(reservations.cancel(set.get(2).reservationId(), one.userId())))).then();
        }, 32).then().block(Duration.ofMinutes(2));
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status = 'SOLD'", date)).as("some sets were sold").isPositive();
        assertThat(counts(date)).as("after payments of several, racing cancels, and refunds").isEqualTo(recount(date));
    }
}
