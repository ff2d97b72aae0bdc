package com.concertbooking.booking;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.IntStream;

import com.concertbooking.booking.PaymentService.PayCommand;
import com.concertbooking.booking.ReservationService.HoldCommand;
import com.concertbooking.booking.ReservationService.Reservation;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Exact hold expiry with no sweeper running (the test profile disables it), then the sweeper driven by
 * hand. The one test context with a short hold; the sweeper batch is small so several batches run.
 */
@TestPropertySource(properties = {"booking.reservation.hold-duration=2s", "booking.reservation.sweep-batch=50"})
class ReservationExpiryTest extends BookingTestBase {

    private static final long PRICE = 100_000;

    @Autowired
    HoldSweeper sweeper;

    @BeforeEach
    void drainOldHolds() {
        // Earlier runs leave expired holds in the shared test database; sweep them so each test sees its own.
        while (sweeper.sweep().block() > 0) {
            // next round
        }
    }

    /** SPEC 4.2: bookable again within a second after heldUntil, with nothing sweeping; paying the old hold is HOLD_EXPIRED. */
    @Test
    void aHoldIsBookableAgainRightAfterHeldUntil() throws InterruptedException {
        long first = createUser(PRICE);
        long second = createUser(PRICE);
        CreatedConcert concert = createConcert(3);
        Reservation old = hold(first, concert, 1);
        assertThat(Duration.between(Instant.now(), old.heldUntil())).isBetween(Duration.ofMillis(1500), Duration.ofSeconds(2));

        HoldCommand retake = new HoldCommand(second, concert.firstDateId(), 1, null);
        assertThat(codeOf(reservations.hold(pass(second, concert.concertId()), retake))).isEqualTo("SEAT_UNAVAILABLE");
        sleepUntil(old.heldUntil().minusMillis(250));
        assertThat(codeOf(reservations.hold(pass(second, concert.concertId()), retake))).as("still held just before heldUntil")
                .isEqualTo("SEAT_UNAVAILABLE");

        sleepUntil(old.heldUntil());
        Reservation taken = null;
        while (taken == null && Instant.now().isBefore(old.heldUntil().plusSeconds(1))) {
            taken = reservations.hold(pass(second, concert.concertId()), retake)
                    .onErrorResume(com.concertbooking.support.ApiException.class, e -> reactor.core.publisher.Mono.empty()).block();
            if (taken == null) {
                Thread.sleep(20);
            }
        }
        Instant bookedAt = Instant.now();
        assertThat(taken).as("re-held within a second after heldUntil").isNotNull();
        assertThat(Duration.between(old.heldUntil(), bookedAt)).isLessThan(Duration.ofSeconds(1));
        assertThat(storedStatus(old.reservationId())).as("no sweeper ran: the row still says HELD").isEqualTo("HELD");
        assertThat(seat(taken.seatId())).containsEntry("status", "HELD");
        assertThat(((Number) seat(taken.seatId()).get("reservation_id")).longValue()).isEqualTo(taken.reservationId());

        // The old hold can no longer be paid (nothing debited) nor cancelled, and is listed as EXPIRED.
        assertThat(codeOf(payments.pay(pass(first, concert.concertId()), new PayCommand(old.reservationId(), first, "k"))))
                .isEqualTo("HOLD_EXPIRED");
        assertThat(balance(first)).isEqualTo(PRICE);
        assertThat(payment(old.reservationId())).isNull();
        assertThat(codeOf(reservations.cancel(old.reservationId(), first))).isEqualTo("RESERVATION_NOT_CANCELLABLE");
        assertThat(reservations.list(first).block()).extracting(Reservation::status).containsExactly(ReservationStatus.EXPIRED);
        assertThat(outboxTypes(old.reservationId())).isEmpty();

        // The sweeper then records the expiry once and leaves the seat with its new holder.
        sweeper.sweep().block();
        assertThat(storedStatus(old.reservationId())).isEqualTo("EXPIRED");
        assertThat(outboxTypes(old.reservationId())).containsExactly("reservation-expired");
        assertThat(((Number) seat(taken.seatId()).get("reservation_id")).longValue()).isEqualTo(taken.reservationId());
        assertThat(storedStatus(taken.reservationId())).isEqualTo("HELD");
        assertThat(codeOf(payments.pay(pass(first, concert.concertId()), new PayCommand(old.reservationId(), first, null))))
                .as("still HOLD_EXPIRED once swept").isEqualTo("HOLD_EXPIRED");
        assertThat(pay(second, concert.concertId(), taken.reservationId(), null).response().status()).isEqualTo(PaymentStatus.COMPLETED);
    }

    /** Three sweepers at once (as on three instances) expire every hold exactly once, in bounded batches. */
    @Test
    void concurrentSweepersExpireEachHoldOnce() throws InterruptedException {
        CreatedConcert concert = createConcert(120);
        List<Long> users = createUsers(120, 0);
        List<Reservation> held = Flux.fromStream(IntStream.range(0, 120).boxed())
                .flatMap(i -> reservations.hold(pass(users.get(i), concert.concertId()),
                        new HoldCommand(users.get(i), concert.firstDateId(), i + 1, null)), 16)
                .collectList().block();
        assertThat(held).hasSize(120);
        Instant last = held.stream().map(Reservation::heldUntil).max(Instant::compareTo).orElseThrow();
        sleepUntil(last.plusMillis(50));

        List<Integer> swept = Flux.range(0, 3).flatMap(i -> sweeper.sweep(), 3).collectList().block();
        // The sweeper expires every lapsed hold of the database, other tests' too: this date's rows are the measure.
        assertThat(swept.stream().mapToInt(Integer::intValue).sum()).isGreaterThanOrEqualTo(120);
        sweeper.sweep().block(); // a further pass expires none of them again (the counts below stay exactly 120)

        long date = concert.firstDateId();
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE concert_date_id = ? AND status = 'EXPIRED'", date)).isEqualTo(120);
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status = 'AVAILABLE' AND reservation_id IS NULL", date))
                .isEqualTo(120);
        assertThat(count("SELECT COUNT(*) FROM outbox WHERE event_type = 'reservation-expired' AND message_key = ?", Long.toString(date)))
                .isEqualTo(120);
        for (Reservation r : held.subList(0, 5)) {
            assertThat(outboxTypes(r.reservationId())).containsExactly("reservation-expired");
        }
    }

    /** The background loop itself (disabled in tests) expires holds on its own once enabled, and stops cleanly. */
    @Test
    void theBackgroundLoopSweepsWhenEnabled() throws InterruptedException {
        long user = createUser(0);
        CreatedConcert concert = createConcert(2);
        Reservation r = hold(user, concert, 2);
        var enabled = new ReservationProperties(Duration.ofSeconds(2), Duration.ofMillis(200), 50, true, 4, 4);
        HoldSweeper loop = new HoldSweeper(reservations, enabled);
        loop.start();
        try {
            Instant deadline = r.heldUntil().plusSeconds(3);
            while (!"EXPIRED".equals(storedStatus(r.reservationId())) && Instant.now().isBefore(deadline)) {
                Thread.sleep(100);
            }
        } finally {
            loop.stop();
        }
        assertThat(storedStatus(r.reservationId())).isEqualTo("EXPIRED");
        assertThat(seat(r.seatId())).containsEntry("status", "AVAILABLE");
        assertThat(outboxTypes(r.reservationId())).containsExactly("reservation-expired");
    }

    private static void sleepUntil(Instant when) throws InterruptedException {
        long millis = Duration.between(Instant.now(), when).toMillis();
        if (millis > 0) {
            Thread.sleep(millis);
        }
    }
}
