package com.concertbooking.booking;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.concertbooking.booking.ReservationService.HoldCommand;
import com.concertbooking.booking.ReservationService.Reservation;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Holds, cancellations and the reservation list at the service level, against the real database. */
class ReservationServiceTest extends BookingTestBase {

    @Test
    void holdTakesTheSeatForTheHoldDuration() {
        long user = createUser(0);
        CreatedConcert concert = createConcert(20);
        Instant before = Instant.now();
        Reservation r = hold(user, concert, 7);

        assertThat(r.status()).isEqualTo(ReservationStatus.HELD);
        assertThat(r.userId()).isEqualTo(user);
        assertThat(r.concertId()).isEqualTo(concert.concertId());
        assertThat(r.seatNumber()).isEqualTo(7);
        assertThat(r.price()).isEqualTo(150_000); // seats 1-10 are VIP
        assertThat(Duration.between(before, r.heldUntil()).toMillis()).isCloseTo(Duration.ofMinutes(5).toMillis(), within(2_000L));
        Map<String, Object> seat = seat(r.seatId());
        assertThat(seat.get("status")).isEqualTo("HELD");
        assertThat(((Number) seat.get("reservation_id")).longValue()).isEqualTo(r.reservationId());
        assertThat(storedStatus(r.reservationId())).isEqualTo("HELD");
        assertThat(outboxTypes(r.reservationId())).as("a hold is not one of the published events").isEmpty();

        // The seat left the available list at once, and a second hold is refused.
        assertThat(codeOf(reservations.hold(pass(user, concert.concertId()), new HoldCommand(user, concert.firstDateId(), 7, null))))
                .isEqualTo("SEAT_UNAVAILABLE");
    }

    @Test
    void holdValidatesDateSeatAndConcert() {
        long user = createUser(0);
        CreatedConcert concert = createConcert(5);
        CreatedConcert otherConcert = createConcert(5);
        long c = concert.concertId();
        long date = concert.firstDateId();

        assertThat(codeOf(reservations.hold(pass(user, c), new HoldCommand(user, Long.MAX_VALUE, 1, null)))).isEqualTo("CONCERT_DATE_NOT_FOUND");
        assertThat(codeOf(reservations.hold(pass(user, c), new HoldCommand(user, date, 6, null)))).isEqualTo("SEAT_NOT_FOUND");
        assertThat(codeOf(reservations.hold(pass(user, c), new HoldCommand(user, otherConcert.firstDateId(), 1, null))))
                .as("a date of another concert").isEqualTo("FORBIDDEN");
        assertThat(codeOf(reservations.hold(pass(user, c), new HoldCommand(user, date, 1, otherConcert.concertId()))))
                .as("concertId in the body must match the token").isEqualTo("FORBIDDEN");
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status <> 'AVAILABLE'", date)).isZero();

        assertThat(codeOf(reservations.hold(pass(user, c), new HoldCommand(user, date, 1, c)))).isEqualTo("OK");
    }

    /** SPEC 4.1: 1,000 simultaneous attempts on one seat give exactly one hold. */
    @Test
    void thousandSimultaneousHoldsOnOneSeatGiveExactlyOne() {
        CreatedConcert concert = createConcert(1);
        List<Long> users = createUsers(1000, 0);
        List<String> outcomes = Flux.fromIterable(users)
                .flatMap(u -> reservations.hold(pass(u, concert.concertId()), new HoldCommand(u, concert.firstDateId(), 1, null))
                        .map(r -> "OK").onErrorResume(com.concertbooking.support.ApiException.class, e -> Mono.just(e.code().name())), 1000)
                .collectList().block();

        assertThat(outcomes).hasSize(1000);
        assertThat(outcomes.stream().filter("OK"::equals).count()).isEqualTo(1);
        assertThat(outcomes.stream().filter("SEAT_UNAVAILABLE"::equals).count()).isEqualTo(999);
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE concert_date_id = ?", concert.firstDateId())).isEqualTo(1);
    }

    /** 2,000 users over 500 seats (4 per seat, all at once): exactly 500 holds, no seat twice. */
    @Test
    void twoThousandUsersOverFiveHundredSeats() {
        CreatedConcert concert = createConcert(500);
        List<Long> users = createUsers(2000, 0);
        List<Reservation> held = Flux.range(0, users.size())
                .flatMap(i -> reservations.hold(pass(users.get(i), concert.concertId()),
                                new HoldCommand(users.get(i), concert.firstDateId(), i % 500 + 1, null))
                        .onErrorResume(com.concertbooking.support.ApiException.class, e -> Mono.empty()), 2000)
                .collectList().block();

        assertThat(held).hasSize(500);
        Set<Integer> seats = new HashSet<>();
        held.forEach(r -> assertThat(seats.add(r.seatNumber())).as("seat %d held twice", r.seatNumber()).isTrue());
        long date = concert.firstDateId();
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE concert_date_id = ?", date)).isEqualTo(500);
        assertThat(count("SELECT COUNT(DISTINCT s.id) FROM seat s JOIN reservation r ON r.id = s.reservation_id AND r.seat_id = s.id "
                + "WHERE s.concert_date_id = ? AND s.status = 'HELD'", date)).isEqualTo(500);
    }

    @Test
    void cancellingAHoldReleasesTheSeatOnce() {
        long user = createUser(0);
        long stranger = createUser(0);
        CreatedConcert concert = createConcert(3);
        Reservation r = hold(user, concert, 2);

        assertThat(codeOf(reservations.cancel(r.reservationId(), stranger))).isEqualTo("FORBIDDEN");
        assertThat(codeOf(reservations.cancel(Long.MAX_VALUE, user))).isEqualTo("RESERVATION_NOT_FOUND");

        StepVerifier.create(reservations.cancel(r.reservationId(), user))
                .assertNext(c -> {
                    assertThat(c.status()).isEqualTo(ReservationStatus.CANCELLED);
                    assertThat(c.refunded()).isNull();
                })
                .verifyComplete();
        assertThat(storedStatus(r.reservationId())).isEqualTo("CANCELLED");
        Map<String, Object> seat = seat(r.seatId());
        assertThat(seat.get("status")).isEqualTo("AVAILABLE");
        assertThat(seat.get("reservation_id")).isNull();
        assertThat(outboxTypes(r.reservationId())).containsExactly("reservation-cancelled");

        assertThat(codeOf(reservations.cancel(r.reservationId(), user))).isEqualTo("RESERVATION_NOT_CANCELLABLE");
        assertThat(outboxTypes(r.reservationId())).hasSize(1);
        // The seat is bookable again.
        assertThat(hold(stranger, concert, 2).status()).isEqualTo(ReservationStatus.HELD);
    }

    @Test
    void listIsNewestFirstAndUnknownUsersAre404() {
        long user = createUser(0);
        CreatedConcert concert = createConcert(5);
        Reservation first = hold(user, concert, 1);
        Reservation second = hold(user, concert, 2);
        reservations.cancel(first.reservationId(), user).block();

        List<Reservation> list = reservations.list(user).block();
        assertThat(list).extracting(Reservation::reservationId).containsExactly(second.reservationId(), first.reservationId());
        assertThat(list).extracting(Reservation::status).containsExactly(ReservationStatus.HELD, ReservationStatus.CANCELLED);
        assertThat(list.get(0).paidAt()).isNull();

        assertThat(reservations.list(createUser(0)).block()).isEmpty();
        assertThat(codeOf(reservations.list(Long.MAX_VALUE))).isEqualTo("USER_NOT_FOUND");
    }
}
