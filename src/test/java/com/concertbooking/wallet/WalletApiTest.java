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
        asUser(user).get().uri("/api/v1/users/{id}/balance", user).exchange()
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
        asUser(user).get().uri("/api/v1/users/{id}/balance", user).exchange()
                .expectBody().jsonPath("$.balance").isEqualTo(1_000_000_000);
    }

    @Test
    void unknownUserAndBadIds() {
        // A token whose subject has no users row (an external identity provider's user not provisioned here).
        long ghost = Long.MAX_VALUE;
        asUser(ghost).get().uri("/api/v1/users/{id}/balance", ghost).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("USER_NOT_FOUND");
        charge("/api/v1/users/{id}/charge", ghost, 5).expectStatus().isNotFound()
                .expectBody().jsonPath("$.code").isEqualTo("USER_NOT_FOUND");
        long user = createUser(0);
        for (String id : new String[] {"abc", "-3", "0", "99999999999999999999999", "1.0", " "}) {
            asUser(user).get().uri("/api/v1/users/" + id + "/balance").exchange()
                    .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
    }

    /** The attacks on wallets: without a token, or for another user, nothing is read or changed. */
    @Test
    void nobodyReadsOrTopsUpAnotherUsersWallet() {
        long victim = createUser(700);
        long attacker = createUser(0);
        web.get().uri("/api/v1/users/{id}/balance", victim).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        web.patch().uri("/api/v1/users/{id}/charge", victim).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("amount", 5)).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        for (String path : new String[] {"/api/v1/users/{id}/charge", "/api/v1/{id}/charge"}) {
            asUser(attacker).patch().uri(path, victim).contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("amount", 5)).exchange()
                    .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        }
        asUser(attacker).get().uri("/api/v1/users/{id}/balance", victim).exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        asUser(attacker).head().uri("/api/v1/users/{id}/balance", victim).exchange().expectStatus().isForbidden();
        asUser(victim).get().uri("/api/v1/users/{id}/balance", victim).exchange().expectBody().jsonPath("$.balance").isEqualTo(700);
        asUser(attacker).get().uri("/api/v1/users/{id}/balance", attacker).exchange().expectBody().jsonPath("$.balance").isEqualTo(0);
    }

    /** Strict JSON: a duplicate key is a 400, never "the last one wins" (the attack charged 5 instead of 10,000,000). */
    @Test
    void duplicateKeysAndTrailingGarbageAreRejected() {
        long user = createUser(0);
        for (String body : new String[] {"{\"amount\":10000000,\"amount\":5}", "{\"amount\":5} {\"amount\":6}", "{\"amount\":5}x",
                "{\"amount\":99999999999999999999}", "{\"amount\":1e3}"}) {
            asUser(user).patch().uri("/api/v1/users/{id}/charge", user).contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                    .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        asUser(user).get().uri("/api/v1/users/{id}/balance", user).exchange().expectBody().jsonPath("$.balance").isEqualTo(0);
    }

    @Test
    void badChargeBodiesChangeNothing() {
        long user = createUser(100);
        for (String body : new String[] {"{\"amount\":", "{}", "{\"amount\":\"x\"}", "{\"amount\":1.5}", "[]", "null"}) {
            asUser(user).patch().uri("/api/v1/users/{id}/charge", user).contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                    .exchange().expectStatus().isBadRequest()
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        asUser(user).get().uri("/api/v1/users/{id}/balance", user).exchange().expectBody().jsonPath("$.balance").isEqualTo(100);
    }

    /** SPEC 4.3: N concurrent charges of A add exactly N x A. */
    @Test
    void fiveHundredConcurrentChargesLoseNoUpdate() {
        long user = createUser(0);
        int n = 500;
        long amount = 1_000;
        var client = racingClient();
        String bearer = bearerFor(user);
        var statuses = Flux.range(0, n)
                .flatMap(i -> client.patch().uri("/api/v1/users/{id}/charge", user)
                        .header(org.springframework.http.HttpHeaders.AUTHORIZATION, bearer)
                        .contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(Map.of("amount", amount))
                        .exchangeToMono(r -> Mono.just(r.statusCode())), n)
                .collectList().block();
        assertThat(statuses).hasSize(n).allMatch(HttpStatusCode::is2xxSuccessful);
        asUser(user).get().uri("/api/v1/users/{id}/balance", user).exchange()
                .expectBody().jsonPath("$.balance").isEqualTo(n * amount);
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec charge(String path, long user, long amount) {
        return asUser(user).patch().uri(path, user).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("amount", amount)).exchange();
    }
}
