package com.concertbooking.booking;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;

import com.concertbooking.booking.ReservationService.HoldCommand;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.support.ApiException;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 4.13: a user has at most max-tickets-per-user seats of a concert, live holds and paid together, whatever runs
 * in parallel; a concert may set its own limit; cancels, refunds and expiries give seats back to the limit.
 */
class PurchaseLimitTest extends BookingTestBase {

    private long heldOrPaid(long user, long concert) {
        return count("SELECT COUNT(*) FROM reservation WHERE user_id = ? AND concert_id = ? AND (status = 'PAID' "
                + "OR (status = 'HELD' AND held_until > UTC_TIMESTAMP(6)))", user, concert);
    }

    private long counted(long user, long concert) {
        return count("SELECT COALESCE(MAX(tickets), 0) FROM ticket_count WHERE user_id = ? AND concert_id = ?", user, concert);
    }

    /**
     * One user, 50 holds over three dates at once, each paid as soon as it is held, racing the remaining holds: at
     * most 4 seats end held or paid, the rest are PURCHASE_LIMIT_REACHED (or a hold-limit or seat refusal), and the
     * counter agrees with the reservations.
     */
    @Test
    void fiftyParallelHoldsAndPaymentsOverSeveralDatesEndWithAtMostTheLimit() {
        long user = createUser(10_000_000);
        CreatedConcert concert = createConcert(30, 20, 21, 22);
        var pass = pass(user, concert.concertId());
        ConcurrentLinkedQueue<String> outcomes = new ConcurrentLinkedQueue<>();
        Flux.range(0, 50)
                .flatMap(i -> Mono.defer(() -> reservations.hold(pass, new HoldCommand(user, concert.dateIds().get(i % 3), 1 + i / 3, null)))
                        .subscribeOn(Schedulers.parallel())
                        .flatMap(r -> payments.pay(pass, new PaymentService.PayCommand(r.reservationId(), user, null)).thenReturn("PAID"))
                        .onErrorResume(ApiException.class, e -> Mono.just(e.code().name())), 50)
                .doOnNext(outcomes::add)
                .then().block(Duration.ofSeconds(60));

        assertThat(outcomes).hasSize(50);
        assertThat(outcomes.stream().filter("PAID"::equals).count()).isEqualTo(4);
        assertThat(outcomes).filteredOn(o -> !o.equals("PAID")).containsOnly("PURCHASE_LIMIT_REACHED");
        assertThat(heldOrPaid(user, concert.concertId())).isEqualTo(4);
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE user_id = ?", user)).isEqualTo(4);
        assertThat(counted(user, concert.concertId())).isEqualTo(4);
        assertThat(count("SELECT COUNT(*) FROM seat s JOIN concert_date d ON d.id = s.concert_date_id WHERE d.concert_id = ? "
                + "AND s.status <> 'AVAILABLE'", concert.concertId())).isEqualTo(4);
    }

    /** Through the API: the problem names the limit; a refund and a cancel each give one back; another concert is apart. */
    @Test
    void theLimitIsSaidThroughTheApiAndCancelsAndRefundsGiveSeatsBack() {
        long user = createUser(10_000_000);
        CreatedConcert concert = createConcert(30, 20, 21);
        String token = activeToken(user, concert.concertId());
        List<Reservation> held = new java.util.ArrayList<>();
        for (int seat = 1; seat <= 4; seat++) {
            held.add(hold(user, concert, seat));
        }
        pay(user, concert.concertId(), held.get(0).reservationId(), null);
        asUser(user).post().uri("/api/v1/reservations").header("Queue-Token", token).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", user, "concertDateId", concert.dateIds().get(1), "seatNumber", 1))
                .exchange().expectStatus().isEqualTo(409).expectBody()
                .jsonPath("$.code").isEqualTo("PURCHASE_LIMIT_REACHED")
                .jsonPath("$.detail").value(d -> assertThat((String) d).contains("4 seats"));
        // A cancelled hold and a refunded seat each make room for one.
        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", held.get(1).reservationId(), user).exchange().expectStatus().isOk();
        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", held.get(0).reservationId(), user).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.refunded").isEqualTo(150_000);
        assertThat(counted(user, concert.concertId())).isEqualTo(2);
        Reservation again = reservations.hold(pass(user, concert.concertId()), new HoldCommand(user, concert.dateIds().get(1), 1, null)).block();
        assertThat(again).isNotNull();
        reservations.hold(pass(user, concert.concertId()), new HoldCommand(user, concert.dateIds().get(1), 2, null)).block();
        assertThat(codeOf(reservations.hold(pass(user, concert.concertId()), new HoldCommand(user, concert.dateIds().get(1), 3, null))))
                .isEqualTo("PURCHASE_LIMIT_REACHED");
        // Another concert has its own count.
        CreatedConcert other = createConcert(5);
        assertThat(hold(user, other, 1).status()).isEqualTo(ReservationStatus.HELD);
        assertThat(heldOrPaid(user, concert.concertId())).isEqualTo(4);
        assertThat(counted(user, concert.concertId())).isEqualTo(4);
    }

    /** A concert's own limit; and an expired hold gives its seat back once the sweeper marks it. */
    @Test
    void aConcertSetsItsOwnLimitAndExpiriesGiveSeatsBack() {
        long user = createUser(0);
        Map<String, Object> date = Map.of("startsAt", java.time.Instant.now().plus(Duration.ofDays(9)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString(),
                "venue", unique("Hall"), "seats", List.of(Map.of("grade", "R", "price", 10, "count", 10)));
        Map<?, ?> body = asAdmin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", unique("Limited"), "dates", List.of(date), "maxTicketsPerUser", 2))
                .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        assertThat(num(body.get("maxTicketsPerUser"))).isEqualTo(2);
        long concertId = num(body.get("concertId"));
        long dateId = num(((Map<?, ?>) ((List<?>) body.get("dates")).get(0)).get("concertDateId"));
        CreatedConcert concert = new CreatedConcert(concertId, List.of(dateId));
        Reservation first = hold(user, concert, 1);
        hold(user, concert, 2);
        assertThat(codeOf(reservations.hold(pass(user, concertId), new HoldCommand(user, dateId, 3, null)))).isEqualTo("PURCHASE_LIMIT_REACHED");
        // The first hold runs out; the sweep marks it EXPIRED and gives its seat back to the limit.
        db.sql("UPDATE reservation SET held_until = :t WHERE id = :id").bind("t", java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).minusSeconds(1))
                .bind("id", first.reservationId()).fetch().rowsUpdated().block();
        // (The sweep takes the oldest lapsed holds first; the shared test database may hold older ones of other tests.)
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> {
            reservations.sweepOnce().block();
            return storedStatus(first.reservationId()).equals("EXPIRED");
        });
        assertThat(counted(user, concertId)).isEqualTo(1);
        assertThat(hold(user, concert, 3).status()).isEqualTo(ReservationStatus.HELD);
        assertThat(counted(user, concertId)).isEqualTo(2);
    }
}
