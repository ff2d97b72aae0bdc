package com.concertbooking.payment;

import java.util.List;
import java.util.Map;

import com.concertbooking.reservation.BookingTestBase;
import com.concertbooking.reservation.ReservationService.Reservation;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;

/** POST /payments/pay over HTTP with real queue tokens: idempotent retries across the token's end (SPEC 4.4). */
class PaymentApiTest extends BookingTestBase {

    private static final long PRICE = 100_000;

    @Test
    void aRetryWithTheSameKeyReplaysTheResponseEvenAfterThePaymentEndedTheToken() {
        long user = createUser(3 * PRICE);
        CreatedConcert concert = createConcert(5);
        String token = activeToken(user, concert.concertId());
        Reservation first = hold(user, concert, 1);
        Reservation second = hold(user, concert, 2);

        Map<?, ?> paid = pay(token, "order-1", first.reservationId(), user).expectStatus().isOk()
                .expectHeader().doesNotExist(PaymentController.REPLAYED)
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(paid.get("status")).isEqualTo("COMPLETED");
        assertThat(num(paid.get("balance"))).isEqualTo(2 * PRICE);
        // The payment ended the token ...
        status(token).expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");

        // ... yet the same retry gets the very same response, without paying again.
        Map<?, ?> replayed = pay(token, "order-1", first.reservationId(), user).expectStatus().isOk()
                .expectHeader().valueEquals(PaymentController.REPLAYED, "true")
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(replayed).isEqualTo(paid);
        // Anything else with the ended token is refused.
        pay(token, "order-2", second.reservationId(), user).expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");
        pay(token, null, second.reservationId(), user).expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");
        pay(token, "order-1", second.reservationId(), user).expectStatus().isUnauthorized();
        asUser(user).get().uri("/api/v1/users/{u}/balance", user).exchange().expectBody().jsonPath("$.balance").isEqualTo(2 * PRICE);

        // With a new ACTIVE token, the key used for another request is 422, and nothing is executed.
        String again = activeToken(user, concert.concertId());
        pay(again, "order-1", second.reservationId(), user).expectStatus().isEqualTo(422)
                .expectBody().jsonPath("$.code").isEqualTo("IDEMPOTENCY_KEY_REUSED");
        assertThat(storedStatus(second.reservationId())).isEqualTo("HELD");
        pay(again, "order-2", second.reservationId(), user).expectStatus().isOk();
        assertThat(count("SELECT COUNT(*) FROM payment WHERE user_id = ?", user)).isEqualTo(2);
        assertThat(outboxTypes(first.reservationId())).containsExactly("payment-completed");
    }

    @Test
    void paymentErrorsOverHttp() {
        long user = createUser(PRICE - 1);
        CreatedConcert concert = createConcert(5);
        String token = activeToken(user, concert.concertId());
        Reservation r = hold(user, concert, 3);

        pay(null, null, r.reservationId(), user).expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        asUser(user).post().uri("/api/v1/payments/pay").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reservationId", r.reservationId(), "userId", user)).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_MISSING");
        pay(token, "x".repeat(101), r.reservationId(), user).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        pay(token, "bad key", r.reservationId(), user).expectStatus().isBadRequest();
        asUser(user).post().uri("/api/v1/payments/pay").headers(withPass(token)).contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"reservationId\":\"1\"}").exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        pay(token, null, Long.MAX_VALUE, user).expectStatus().isNotFound()
                .expectBody().jsonPath("$.code").isEqualTo("RESERVATION_NOT_FOUND");
        pay(token, null, r.reservationId(), user + 1).expectStatus().isForbidden()
                .expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        pay(token, "k", r.reservationId(), user).expectStatus().isEqualTo(409)
                .expectBody().jsonPath("$.code").isEqualTo("INSUFFICIENT_BALANCE");
        // Nothing changed, the token is still ACTIVE, and the same key works once the money is there.
        assertThat(storedStatus(r.reservationId())).isEqualTo("HELD");
        assertThat(statusBody(token).get("status")).isEqualTo("ACTIVE");
        asUser(user).patch().uri("/api/v1/users/{u}/charge", user).contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("amount", 1))
                .exchange().expectStatus().isOk();
        pay(token, "k", r.reservationId(), user).expectStatus().isOk().expectBody().jsonPath("$.balance").isEqualTo(0);
    }

    /** Two payments of one reservation at once over HTTP: one 200, the other refused; debited once. */
    @Test
    void twoConcurrentPaymentsDebitOnce() {
        long user = createUser(2 * PRICE);
        CreatedConcert concert = createConcert(5);
        String token = activeToken(user, concert.concertId());
        Reservation r = hold(user, concert, 4);
        var client = racingClient();
        List<String> outcomes = Flux.range(0, 2)
                .flatMap(i -> client.post().uri("/api/v1/payments/pay").headers(withPass(token))
                        .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("reservationId", r.reservationId(), "userId", user))
                        .exchangeToMono(resp -> resp.bodyToMono(String.class)
                                .map(b -> resp.statusCode().value() + " " + (resp.statusCode().value() == 200 ? "" : field(b, "code")))))
                .collectList().block();
        assertThat(outcomes).filteredOn(o -> o.startsWith("200")).hasSize(1);
        // The loser either found the reservation paid, or arrived after the payment ended the token.
        assertThat(outcomes).filteredOn(o -> !o.startsWith("200")).singleElement()
                .isIn("409 RESERVATION_NOT_PAYABLE", "401 TOKEN_EXPIRED");
        asUser(user).get().uri("/api/v1/users/{u}/balance", user).exchange().expectBody().jsonPath("$.balance").isEqualTo(PRICE);
        assertThat(outboxTypes(r.reservationId())).containsExactly("payment-completed");
    }

    private WebTestClient.ResponseSpec pay(String token, String key, long reservationId, long userId) {
        var spec = web.post().uri("/api/v1/payments/pay").contentType(MediaType.APPLICATION_JSON);
        if (token != null) {
            spec = spec.headers(withPass(token));
        }
        if (key != null) {
            spec = spec.header(PaymentController.IDEMPOTENCY_KEY, key);
        }
        return spec.bodyValue(Map.of("reservationId", reservationId, "userId", userId)).exchange();
    }
}
