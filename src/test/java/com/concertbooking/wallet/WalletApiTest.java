package com.concertbooking.wallet;

import java.util.Map;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;

class WalletApiTest extends IntegrationTest {

    @Test
    void balanceOfANewUser() {
        long user = createUser(1234);
        web.get().uri("/api/v1/users/{id}/balance", user).exchange()
                .expectStatus().isOk()
                .expectBody().jsonPath("$.userId").isEqualTo(user).jsonPath("$.balance").isEqualTo(1234);
    }

    @Test
    void chargeAddsToTheBalanceOnBothPaths() {
        long user = createUser(0);
        charge("/api/v1/users/{id}/charge", user, 50_000).expectStatus().isOk()
                .expectBody().jsonPath("$.balance").isEqualTo(50_000);
        charge("/api/v1/{id}/charge", user, 7).expectStatus().isOk()
                .expectBody().jsonPath("$.balance").isEqualTo(50_007);
    }

    @Test
    void chargeLimitsPerChargeAndPerBalance() {
        long user = createUser(995_000_000);
        charge("/api/v1/users/{id}/charge", user, 0).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        charge("/api/v1/users/{id}/charge", user, 10_000_001).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        charge("/api/v1/users/{id}/charge", user, 5_000_001).expectStatus().isEqualTo(409)
                .expectBody().jsonPath("$.code").isEqualTo("BALANCE_LIMIT_EXCEEDED");
        charge("/api/v1/users/{id}/charge", user, 5_000_000).expectStatus().isOk()
                .expectBody().jsonPath("$.balance").isEqualTo(1_000_000_000);
        web.get().uri("/api/v1/users/{id}/balance", user).exchange()
                .expectBody().jsonPath("$.balance").isEqualTo(1_000_000_000);
    }

    @Test
    void unknownUserAndBadIds() {
        web.get().uri("/api/v1/users/{id}/balance", Long.MAX_VALUE).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("USER_NOT_FOUND");
        charge("/api/v1/users/{id}/charge", Long.MAX_VALUE, 5).expectStatus().isNotFound()
                .expectBody().jsonPath("$.code").isEqualTo("USER_NOT_FOUND");
        web.get().uri("/api/v1/users/abc/balance").exchange()
                .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        web.get().uri("/api/v1/users/-3/balance").exchange()
                .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        web.get().uri("/api/v1/users/99999999999999999999999/balance").exchange()
                .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
    }

    @Test
    void badChargeBodiesChangeNothing() {
        long user = createUser(100);
        for (String body : new String[] {"{\"amount\":", "{}", "{\"amount\":\"x\"}", "{\"amount\":1.5}", "[]", "null"}) {
            web.patch().uri("/api/v1/users/{id}/charge", user).contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                    .exchange().expectStatus().isBadRequest()
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        web.get().uri("/api/v1/users/{id}/balance", user).exchange().expectBody().jsonPath("$.balance").isEqualTo(100);
    }

    /** SPEC 4.3: N concurrent charges of A add exactly N x A. */
    @Test
    void fiveHundredConcurrentChargesLoseNoUpdate() {
        long user = createUser(0);
        int n = 500;
        long amount = 1_000;
        var client = racingClient();
        var statuses = Flux.range(0, n)
                .flatMap(i -> client.patch().uri("/api/v1/users/{id}/charge", user)
                        .contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(Map.of("amount", amount))
                        .exchangeToMono(r -> Mono.just(r.statusCode())), n)
                .collectList().block();
        assertThat(statuses).hasSize(n).allMatch(HttpStatusCode::is2xxSuccessful);
        web.get().uri("/api/v1/users/{id}/balance", user).exchange()
                .expectBody().jsonPath("$.balance").isEqualTo(n * amount);
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec charge(String path, long user, long amount) {
        return web.patch().uri(path, user).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("amount", amount)).exchange();
    }
}
