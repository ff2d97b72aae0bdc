package com.concertbooking.booking;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import com.concertbooking.booking.ReservationService.Reservation;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.Disposable;
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

    /** SPEC 4.10: no payment once the date has started; nothing is debited and the key is released. */
    @Test
    void paymentsOfAStartedDateAreClosed() {
        long user = createUser(PRICE);
        CreatedConcert concert = createConcert(5);
        String token = activeToken(user, concert.concertId());
        Reservation r = hold(user, concert, 1);
        db.sql("UPDATE concert_date SET starts_at = :past WHERE id = :id")
                .bind("past", LocalDateTime.now(ZoneOffset.UTC).minusSeconds(1)).bind("id", concert.firstDateId())
                .fetch().rowsUpdated().block();

        pay(token, "closed-1", r.reservationId(), user).expectStatus().isEqualTo(409)
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.code").isEqualTo("CONCERT_DATE_CLOSED");
        pay(token, null, r.reservationId(), user).expectStatus().isEqualTo(409)
                .expectBody().jsonPath("$.code").isEqualTo("CONCERT_DATE_CLOSED");
        assertThat(balance(user)).isEqualTo(PRICE);
        assertThat(storedStatus(r.reservationId())).isEqualTo("HELD");
        assertThat(payment(r.reservationId())).isNull();
        assertThat(count("SELECT COUNT(*) FROM idempotency_key WHERE user_id = ?", user)).as("the claim was released").isZero();
        assertThat(statusBody(token).get("status")).isEqualTo("ACTIVE");
    }

    /**
     * SPEC 4.11: the client goes away while its payment waits inside the transaction (the test holds the user's
     * row lock); the payment still runs to its end once the lock is released, the key ends COMPLETED, never
     * IN_PROGRESS, and a retry with the key replays that very payment.
     */
    @Test
    void aClientThatDisconnectsMidPaymentLeavesACompletedKey() throws Exception {
        long user = createUser(2 * PRICE);
        CreatedConcert concert = createConcert(5);
        String token = activeToken(user, concert.concertId());
        Reservation r = hold(user, concert, 1);

        try (Connection blocker = DriverManager.getConnection(jdbcUrl, jdbcUser, jdbcPassword);
             Connection probe = DriverManager.getConnection(jdbcUrl, jdbcUser, jdbcPassword)) {
            blocker.setAutoCommit(false);
            try (var st = blocker.prepareStatement("SELECT id FROM users WHERE id = ? FOR UPDATE")) {
                st.setLong(1, user);
                st.executeQuery().close();
            }
            AtomicReference<String> answer = new AtomicReference<>();
            Disposable request = racingClient().post().uri("/api/v1/payments/pay").headers(withPass(token))
                    .header(PaymentController.IDEMPOTENCY_KEY, "gone-1").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("reservationId", r.reservationId(), "userId", user))
                    .exchangeToMono(resp -> resp.bodyToMono(String.class)).subscribe(answer::set, e -> answer.set("error " + e));

            // Wait until the payment is inside its transaction: it has locked the reservation row (step 1)
            // and now waits for the user's row (the debit).
            probe.setAutoCommit(false);
            long deadline = System.currentTimeMillis() + 10_000;
            boolean inside = false;
            while (!inside && System.currentTimeMillis() < deadline) {
                try (var st = probe.prepareStatement("SELECT id FROM reservation WHERE id = ? FOR UPDATE NOWAIT")) {
                    st.setLong(1, r.reservationId());
                    st.executeQuery().close();
                    Thread.sleep(20);
                } catch (SQLException locked) {
                    inside = true;
                } finally {
                    probe.rollback();
                }
            }
            assertThat(inside).as("the payment reached its transaction").isTrue();

            request.dispose(); // the client disconnects
            Thread.sleep(500); // time for the server to see the closed connection
            assertThat(answer.get()).as("no answer reached the client").isNull();
            blocker.commit(); // the payment may go on
        }

        long deadline = System.currentTimeMillis() + 10_000;
        String keyStatus = null;
        while (!"COMPLETED".equals(keyStatus) && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
            keyStatus = db.sql("SELECT status FROM idempotency_key WHERE user_id = :u AND idem_key = 'gone-1'").bind("u", user)
                    .map(row -> row.get("status", String.class)).one().block();
        }
        assertThat(keyStatus).isEqualTo("COMPLETED");
        assertThat(storedStatus(r.reservationId())).isEqualTo("PAID");
        assertThat(balance(user)).isEqualTo(PRICE);

        // The payment also ended the token; the retry with the same key replays the payment that ran.
        Map<?, ?> replayed = pay(token, "gone-1", r.reservationId(), user).expectStatus().isOk()
                .expectHeader().valueEquals(PaymentController.REPLAYED, "true")
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(num(replayed.get("paymentId"))).isEqualTo(num(payment(r.reservationId()).get("id")));
        assertThat(num(replayed.get("balance"))).isEqualTo(PRICE);
        assertThat(balance(user)).isEqualTo(PRICE);
        assertThat(outboxTypes(r.reservationId())).containsExactly("payment-completed");
    }

    /**
     * A claim older than its lease is taken over only by the same request: another body with that key stays
     * 422 IDEMPOTENCY_KEY_REUSED (and runs nothing); the same body takes it over and pays.
     */
    @Test
    void aStaleClaimIsTakenOverOnlyByTheSameRequest() {
        long user = createUser(3 * PRICE);
        CreatedConcert concert = createConcert(5);
        String token = activeToken(user, concert.concertId());
        Reservation first = hold(user, concert, 1);
        Reservation second = hold(user, concert, 2);
        String hashOfFirst = PaymentService.requestHash(new PaymentService.PayCommand(first.reservationId(), user, "stale"));
        LocalDateTime longAgo = LocalDateTime.now(ZoneOffset.UTC).minusMinutes(5);
        db.sql("INSERT INTO idempotency_key (user_id, idem_key, request_hash, status, created_at, expires_at) "
                        + "VALUES (:u, 'stale', :h, 'IN_PROGRESS', :created, :expires)")
                .bind("u", user).bind("h", hashOfFirst).bind("created", longAgo).bind("expires", longAgo.plusHours(24))
                .fetch().rowsUpdated().block();

        pay(token, "stale", second.reservationId(), user).expectStatus().isEqualTo(422)
                .expectBody().jsonPath("$.code").isEqualTo("IDEMPOTENCY_KEY_REUSED");
        assertThat(storedStatus(second.reservationId())).isEqualTo("HELD");
        assertThat(balance(user)).isEqualTo(3 * PRICE);
        assertThat(count("SELECT COUNT(*) FROM idempotency_key WHERE user_id = ? AND idem_key = 'stale' AND request_hash = ?",
                user, hashOfFirst)).as("the claim still names the first request").isEqualTo(1);

        pay(token, "stale", first.reservationId(), user).expectStatus().isOk()
                .expectHeader().doesNotExist(PaymentController.REPLAYED)
                .expectBody().jsonPath("$.balance").isEqualTo(2 * PRICE);
        assertThat(storedStatus(first.reservationId())).isEqualTo("PAID");
        assertThat(count("SELECT COUNT(*) FROM idempotency_key WHERE user_id = ? AND idem_key = 'stale' AND status = 'COMPLETED'", user))
                .isEqualTo(1);
    }

    @Value("${spring.flyway.url}")
    String jdbcUrl;
    @Value("${spring.flyway.user}")
    String jdbcUser;
    @Value("${spring.flyway.password}")
    String jdbcPassword;

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
