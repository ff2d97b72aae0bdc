package com.concertbooking.booking;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 3: every reservation body names what was bought (concert, the date's start, venue, grade), wherever a
 * reservation comes back: the hold, the list, the cancel, and the payment's confirmation.
 */
class ReservationBodyTest extends BookingTestBase {

    @Test
    void everyAnswerWithAReservationSaysWhatWasBought() {
        long user = createUser(1_000_000);
        CreatedConcert concert = createConcert(12, 30, 31); // seats 1-10 VIP at 150,000, 11-12 R at 100,000
        Map<String, Object> show = db.sql("SELECT c.name AS concert, d.starts_at, v.name AS venue FROM concert_date d "
                        + "JOIN concert c ON c.id = d.concert_id JOIN venue v ON v.id = d.venue_id WHERE d.id = :id")
                .bind("id", concert.firstDateId()).fetch().one().block();
        String startsAt = ((java.time.LocalDateTime) show.get("starts_at")).toInstant(java.time.ZoneOffset.UTC).toString();
        String token = activeToken(user, concert.concertId());

        Map<?, ?> vip = holdOverHttp(token, user, concert.firstDateId(), 2);
        Map<?, ?> r = holdOverHttp(token, user, concert.firstDateId(), 11);
        for (Map<?, ?> body : List.of(vip, r)) {
            assertThat(body.get("concertName")).isEqualTo(show.get("concert"));
            assertThat(Instant.parse((String) body.get("startsAt"))).isEqualTo(Instant.parse(startsAt));
            assertThat(body.get("venue")).isEqualTo(show.get("venue"));
        }
        assertThat(vip.get("grade")).isEqualTo("VIP");
        assertThat(r.get("grade")).isEqualTo("R");

        Map<?, ?> paid = withQueueToken(token).post().uri("/api/v1/payments/pay").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reservationIds", List.of(num(vip.get("reservationId")), num(r.get("reservationId"))), "userId", user))
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        List<?> confirmation = (List<?>) paid.get("reservations");
        assertThat(confirmation).hasSize(2);
        for (Object o : confirmation) {
            Map<?, ?> body = (Map<?, ?>) o;
            assertThat(body.get("status")).isEqualTo("PAID");
            assertThat(body.get("paidAt")).isEqualTo(paid.get("paidAt"));
            assertThat(body.get("concertName")).isEqualTo(show.get("concert"));
            assertThat(body.get("venue")).isEqualTo(show.get("venue"));
        }
        assertThat(((Map<?, ?>) confirmation.get(0)).get("grade")).isEqualTo("VIP");
        assertThat(((Map<?, ?>) confirmation.get(1)).get("seatNumber")).isEqualTo(11);

        Map<?, ?> cancelled = asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", num(r.get("reservationId")), user)
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        assertThat(cancelled.get("status")).isEqualTo("CANCELLED");
        assertThat(cancelled.get("grade")).isEqualTo("R");
        assertThat(cancelled.get("concertName")).isEqualTo(show.get("concert"));
        assertThat(Instant.parse((String) cancelled.get("startsAt"))).isEqualTo(Instant.parse(startsAt));

        // A hold of the second date shows that date's start; the list shows every one, each with its own facts.
        String token2 = activeToken(user, concert.concertId());
        Map<?, ?> other = holdOverHttp(token2, user, concert.dateIds().get(1), 12);
        assertThat(Instant.parse((String) other.get("startsAt"))).isEqualTo(Instant.parse(startsAt).plus(java.time.Duration.ofDays(1)));
        List<?> list = asUser(user).get().uri("/api/v1/reservations/{u}", user).exchange().expectStatus().isOk()
                .expectBody(List.class).returnResult().getResponseBody();
        assertThat(list).hasSize(3);
        for (Object o : list) {
            Map<?, ?> body = (Map<?, ?>) o;
            for (String key : List.of("concertName", "startsAt", "venue", "grade")) {
                assertThat(body.get(key)).as(key).isNotNull();
            }
            assertThat(body.get("concertName")).isEqualTo(show.get("concert"));
        }
        assertThat(((Map<?, ?>) list.get(0)).get("startsAt")).isEqualTo(other.get("startsAt"));
        assertThat(((Map<?, ?>) list.get(0)).get("venue")).isEqualTo(other.get("venue")).isNotEqualTo(show.get("venue"));
    }

    private Map<?, ?> holdOverHttp(String token, long user, long dateId, int seat) {
        return withQueueToken(token).post().uri("/api/v1/reservations").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", user, "concertDateId", dateId, "seatNumber", seat))
                .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
    }
}
