package com.concertbooking.booking;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;

/** The reservation endpoints over HTTP, with real queue tokens, including the racing holds of SPEC 4.1. */
class ReservationApiTest extends BookingTestBase {

    @Test
    void holdListPayAndCancelOverHttp() {
        long user = createUser(500_000);
        CreatedConcert concert = createConcert(20);
        String token = activeToken(user, concert.concertId());

        Map<?, ?> held = holdRequest(token, Map.of("userId", user, "concertDateId", concert.firstDateId(), "seatNumber", 12,
                "concertId", concert.concertId()))
                .expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(held.keySet().stream().map(Object::toString).toList()).containsExactlyInAnyOrder("reservationId", "userId", "concertId", "concertDateId", "seatId",
                "seatNumber", "price", "status", "heldUntil", "concertName", "startsAt", "venue", "grade");
        assertThat(held.get("status")).isEqualTo("HELD");
        assertThat(num(held.get("price"))).isEqualTo(100_000);
        assertThat(Instant.parse((String) held.get("heldUntil"))).isAfter(Instant.now().plusSeconds(290));
        long reservationId = num(held.get("reservationId"));

        // The seat left the available list at once.
        asUser(user).get().uri("/api/v1/concerts/dates/{d}/seats", concert.firstDateId()).headers(withPass(token))
                .exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.seats[?(@.seatNumber == 12)]").doesNotExist()
                .jsonPath("$.seats.length()").isEqualTo(19);

        // No queue token needed to list one's reservations.
        asUser(user).get().uri("/api/v1/reservations/{u}", user).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[0].reservationId").isEqualTo(reservationId).jsonPath("$[0].status").isEqualTo("HELD")
                .jsonPath("$[0].paidAt").doesNotExist();

        asUser(user).post().uri("/api/v1/payments/pay").headers(withPass(token)).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reservationId", reservationId, "userId", user))
                .exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("COMPLETED").jsonPath("$.amount").isEqualTo(100_000)
                .jsonPath("$.balance").isEqualTo(400_000).jsonPath("$.paymentId").isNumber().jsonPath("$.paidAt").isNotEmpty();
        // Payment ended the token: it no longer admits to holds.
        holdRequest(token, Map.of("userId", user, "concertDateId", concert.firstDateId(), "seatNumber", 13))
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");

        asUser(user).get().uri("/api/v1/reservations/{u}", user).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[0].status").isEqualTo("PAID").jsonPath("$[0].paidAt").isNotEmpty();

        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", reservationId, user + 1).exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        // Another signed-in user naming this user is refused too: the PAID reservation is out of their reach.
        asUser(createUser(0)).delete().uri("/api/v1/reservations/{id}?userId={u}", reservationId, user).exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        web.delete().uri("/api/v1/reservations/{id}?userId={u}", reservationId, user).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", reservationId, user).exchange()
                .expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("CANCELLED").jsonPath("$.refunded").isEqualTo(100_000);
        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", reservationId, user).exchange()
                .expectStatus().isEqualTo(409).expectBody().jsonPath("$.code").isEqualTo("RESERVATION_NOT_CANCELLABLE");
        asUser(user).get().uri("/api/v1/users/{u}/balance", user).exchange().expectBody().jsonPath("$.balance").isEqualTo(500_000);
        assertThat(outboxTypes(reservationId)).containsExactly("payment-completed", "payment-refunded");

        // Holds, payments and cancellations are counted for Prometheus.
        String metrics = prometheusScrape();
        assertThat(metrics).contains("booking_holds_total{", "outcome=\"held\"", "booking_payments_total{", "outcome=\"completed\"",
                "booking_cancellations_total{");
    }

    @Test
    void holdRejectsBadRequestsWithTheRightCodes() {
        long user = createUser(0);
        CreatedConcert concert = createConcert(5);
        CreatedConcert other = createConcert(5);
        String token = activeToken(user, concert.concertId());
        long date = concert.firstDateId();

        holdRequest(null, Map.of("userId", user, "concertDateId", date, "seatNumber", 1))
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        asUser(user).post().uri("/api/v1/reservations").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", user, "concertDateId", date, "seatNumber", 1)).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_MISSING");
        for (Object body : new Object[] {"{\"userId\":", "{}", Map.of("userId", user, "concertDateId", date),
                Map.of("userId", user, "concertDateId", date, "seatNumber", 0), Map.of("userId", -1, "concertDateId", date, "seatNumber", 1),
                Map.of("userId", user, "concertDateId", "x", "seatNumber", 1), Map.of("userId", user, "concertDateId", date, "seatNumber", 1.5)}) {
            holdRequest(token, body).expectStatus().isBadRequest()
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        holdRequest(token, Map.of("userId", user, "concertDateId", Long.MAX_VALUE, "seatNumber", 1))
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("CONCERT_DATE_NOT_FOUND");
        holdRequest(token, Map.of("userId", user, "concertDateId", date, "seatNumber", 6))
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("SEAT_NOT_FOUND");
        holdRequest(token, Map.of("userId", user + 1, "concertDateId", date, "seatNumber", 1))
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        holdRequest(token, Map.of("userId", user, "concertDateId", other.firstDateId(), "seatNumber", 1))
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        holdRequest(token, Map.of("userId", user, "concertDateId", date, "seatNumber", 1, "concertId", other.concertId()))
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE user_id = ?", user)).isZero();
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status <> 'AVAILABLE'", date)).isZero();

        // The other endpoints: bad ids are 400, unknown ones 404, another user's ids 403.
        asUser(user).get().uri("/api/v1/reservations/abc").exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        asUser(user).get().uri("/api/v1/reservations/{u}", Long.MAX_VALUE).exchange().expectStatus().isForbidden()
                .expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        asUser(user).get().uri("/api/v1/reservations/{u}", user + 1).headers(withPass(token)).exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        web.get().uri("/api/v1/reservations/{u}", user).header(HttpHeaders.AUTHORIZATION, "Bearer forged").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        asUser(user).delete().uri("/api/v1/reservations/1").exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        asUser(user).delete().uri("/api/v1/reservations/0?userId={u}", user).exchange().expectStatus().isBadRequest();
        asUser(user).delete().uri("/api/v1/reservations/1?userId={u}&userId={v}", user, user + 1).exchange().expectStatus().isBadRequest();
        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", Long.MAX_VALUE, user).exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.code").isEqualTo("RESERVATION_NOT_FOUND");
    }

    /** SPEC 4.1 over HTTP: 1,000 simultaneous holds of one seat give exactly one 201 and 999 SEAT_UNAVAILABLE. */
    @Test
    void thousandSimultaneousHoldsOnOneSeat() {
        CreatedConcert concert = createConcert(1);
        List<Long> users = createUsers(1000, 0);
        Map<Long, String> tokens = activeTokensInParallel(users, concert.concertId());
        var client = racingClient();
        List<String> outcomes = Flux.fromIterable(users)
                .flatMap(u -> retryingOverload(client.post().uri("/api/v1/reservations").headers(withPass(tokens.get(u)))
                        .contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(Map.of("userId", u, "concertDateId", concert.firstDateId(), "seatNumber", 1))
                        .exchangeToMono(r -> r.bodyToMono(String.class).map(b -> r.statusCode().value() + " " + (r.statusCode().value() == 201 ? "" : field(b, "code"))))), 1000)
                .collectList().block();

        System.out.println("1,000 holds on one seat: requests retried after 503 so far: " + OVERLOADED.get());
        assertThat(outcomes).hasSize(1000);
        assertThat(outcomes.stream().filter(o -> o.startsWith("201")).count()).isEqualTo(1);
        assertThat(outcomes.stream().filter("409 SEAT_UNAVAILABLE"::equals).count()).isEqualTo(999);
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE concert_date_id = ?", concert.firstDateId())).isEqualTo(1);
    }

    /** 2,000 users racing for 500 seats (4 per seat) over HTTP: exactly 500 holds and no seat twice. */
    @Test
    void twoThousandUsersOverFiveHundredSeats() {
        CreatedConcert concert = createConcert(500);
        List<Long> users = createUsers(2000, 0);
        Map<Long, String> tokens = activeTokensInParallel(users, concert.concertId());
        var client = racingClient();
        List<String> outcomes = Flux.range(0, users.size())
                .flatMap(i -> retryingOverload(client.post().uri("/api/v1/reservations")
                        .headers(withPass(tokens.get(users.get(i))))
                        .contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(Map.of("userId", users.get(i), "concertDateId", concert.firstDateId(), "seatNumber", i % 500 + 1))
                        .exchangeToMono(r -> r.bodyToMono(String.class).map(b -> r.statusCode().value() + " " + (r.statusCode().value() == 201
                                ? field(b, "seatNumber") : field(b, "code"))))), 2000)
                .collectList().block();

        System.out.println("2,000 users over 500 seats: requests retried after 503 so far: " + OVERLOADED.get());
        assertThat(outcomes).hasSize(2000).allMatch(o -> o.startsWith("201 ") || o.equals("409 SEAT_UNAVAILABLE"));
        List<String> created = outcomes.stream().filter(o -> o.startsWith("201 ")).toList();
        assertThat(created).hasSize(500);
        Set<String> seats = new HashSet<>();
        created.forEach(o -> assertThat(seats.add(o)).as("seat held twice: %s", o).isTrue());
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE concert_date_id = ?", concert.firstDateId())).isEqualTo(500);
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status = 'HELD' AND reservation_id IS NOT NULL",
                concert.firstDateId())).isEqualTo(500);
    }

    /**
     * SPEC 4.10 under a race: one user firing 50 holds of different seats of one date at once ends with exactly
     * the limit (4) held; the other 46 are 409 HOLD_LIMIT_REACHED and changed nothing. Another date is unaffected,
     * and a cancelled hold frees a place under the limit.
     */
    @Test
    void fiftyConcurrentHoldsOfOneUserStopAtTheLimit() {
        long user = createUser(0);
        CreatedConcert concert = createConcert(60, 30, 31);
        allowTickets(concert.concertId(), 10); // the per-date hold limit is the subject, not the concert's ticket limit
        String token = activeToken(user, concert.concertId());
        long date = concert.firstDateId();
        var client = racingClient();
        java.util.function.Consumer<HttpHeaders> headers = withPass(token);
        List<String> outcomes = Flux.range(1, 50)
                .flatMap(seat -> retryingOverload(client.post().uri("/api/v1/reservations").headers(headers)
                        .contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(Map.of("userId", user, "concertDateId", date, "seatNumber", seat))
                        .exchangeToMono(r -> r.bodyToMono(String.class).map(b -> r.statusCode().value() + " "
                                + (r.statusCode().value() == 201 ? "" : field(b, "code"))))), 50)
                .collectList().block();

        assertThat(outcomes).hasSize(50).allMatch(o -> o.equals("201 ") || o.equals("409 HOLD_LIMIT_REACHED"));
        assertThat(outcomes.stream().filter("201 "::equals).count()).isEqualTo(4);
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE user_id = ? AND concert_date_id = ?", user, date)).isEqualTo(4);
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status <> 'AVAILABLE'", date)).isEqualTo(4);

        holdRequest(token, Map.of("userId", user, "concertDateId", date, "seatNumber", 55))
                .expectStatus().isEqualTo(409).expectBody().jsonPath("$.code").isEqualTo("HOLD_LIMIT_REACHED");
        // The limit is per date.
        holdRequest(token, Map.of("userId", user, "concertDateId", concert.dateIds().get(1), "seatNumber", 1))
                .expectStatus().isCreated();
        // Cancelling one of the four makes room for one more.
        long someHold = count("SELECT MIN(id) FROM reservation WHERE user_id = ? AND concert_date_id = ?", user, date);
        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", someHold, user).exchange().expectStatus().isOk();
        holdRequest(token, Map.of("userId", user, "concertDateId", date, "seatNumber", 55)).expectStatus().isCreated();
        holdRequest(token, Map.of("userId", user, "concertDateId", date, "seatNumber", 56))
                .expectStatus().isEqualTo(409).expectBody().jsonPath("$.code").isEqualTo("HOLD_LIMIT_REACHED");
    }

    /** SPEC 4.10: a date whose start has passed takes no holds (409 CONCERT_DATE_CLOSED), and nothing is written. */
    @Test
    void holdsOfAStartedDateAreClosed() {
        long user = createUser(0);
        CreatedConcert concert = createConcert(5);
        String token = activeToken(user, concert.concertId());
        database.sql("UPDATE concert_date SET starts_at = :past WHERE id = :id")
                .bind("past", java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).minusSeconds(1)).bind("id", concert.firstDateId())
                .fetch().rowsUpdated().block();
        holdRequest(token, Map.of("userId", user, "concertDateId", concert.firstDateId(), "seatNumber", 1))
                .expectStatus().isEqualTo(409)
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.code").isEqualTo("CONCERT_DATE_CLOSED");
        assertThat(count("SELECT COUNT(*) FROM reservation WHERE user_id = ?", user)).isZero();
        assertThat(count("SELECT COUNT(*) FROM seat WHERE concert_date_id = ? AND status <> 'AVAILABLE'", concert.firstDateId())).isZero();
    }

    /**
     * A real client's answer to 503 DEPENDENCY_UNAVAILABLE (which promises nothing happened): try again shortly.
     * With every request fired at once at a 50-connection pool on a shared 2-core machine, a few wait longer
     * than the pool's 3 s acquire limit; the races themselves are unaffected.
     */
    static Mono<String> retryingOverload(Mono<String> call) {
        return call.flatMap(o -> o.startsWith("503 ") ? Mono.<String>error(new IllegalStateException(o)) : Mono.just(o))
                .retryWhen(reactor.util.retry.Retry.backoff(5, java.time.Duration.ofMillis(200)).filter(IllegalStateException.class::isInstance)
                        .doBeforeRetry(r -> OVERLOADED.incrementAndGet()));
    }

    static final java.util.concurrent.atomic.AtomicInteger OVERLOADED = new java.util.concurrent.atomic.AtomicInteger();

    private WebTestClient.ResponseSpec holdRequest(String token, Object body) {
        var spec = web.post().uri("/api/v1/reservations").contentType(MediaType.APPLICATION_JSON);
        if (token != null) {
            spec = spec.headers(withPass(token));
        }
        return spec.bodyValue(body).exchange();
    }
}
