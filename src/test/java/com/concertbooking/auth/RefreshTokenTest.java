package com.concertbooking.auth;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.concertbooking.queue.QueueTestSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 11: the development issuer's refresh tokens: rotated on every use, stored only as a hash, a reused one revokes
 * its whole family (a replay, a stolen copy), sign-out revokes, and a fan waiting past the access token's hour keeps
 * their place in the queue.
 */
class RefreshTokenTest extends QueueTestSupport {

    private record Account(long userId, String username, String password) {}

    @BeforeEach
    void freshAddressCounter() {
        // Logins of other tests count against 127.0.0.1 too (30 a minute): start this test's few with a clean slate.
        redis.delete("auth:login:{addr:127.0.0.1}").block(Duration.ofSeconds(5));
    }

    private Account account() {
        String username = unique("refresh");
        String password = "pw-" + username + "-secret";
        Map<?, ?> created = asAdmin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", username, "password", password, "balance", 0)).exchange()
                .expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        return new Account(num(created.get("userId")), username, password);
    }

    private Map<?, ?> login(Account account) {
        return web.post().uri("/api/v1/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", account.username(), "password", account.password())).exchange()
                .expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
    }

    private WebTestClient.ResponseSpec refresh(Object refreshToken) {
        return web.post().uri("/api/v1/auth/refresh").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("refreshToken", refreshToken)).exchange();
    }

    private Map<?, ?> refreshed(String refreshToken) {
        return refresh(refreshToken).expectStatus().isOk()
                .expectHeader().cacheControl(org.springframework.http.CacheControl.noStore())
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    private static void refused(WebTestClient.ResponseSpec response) {
        response.expectStatus().isUnauthorized()
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
    }

    private void balanceWith(Map<?, ?> tokens, long userId, int status) {
        web.get().uri("/api/v1/users/{u}/balance", userId).header(HttpHeaders.AUTHORIZATION, "Bearer " + tokens.get("accessToken"))
                .exchange().expectStatus().isEqualTo(status);
    }

    @Test
    void loginGivesARefreshTokenThatRotatesOnEveryUseAndIsStoredOnlyAsAHash() {
        Account fan = account();
        Map<?, ?> signedIn = login(fan);
        String first = (String) signedIn.get("refreshToken");
        assertThat(first).matches("[A-Za-z0-9_-]{43}");
        assertThat(num(signedIn.get("refreshExpiresIn"))).isEqualTo(12 * 3600);

        Map<?, ?> second = refreshed(first);
        assertThat(second.get("tokenType")).isEqualTo("Bearer");
        assertThat(num(second.get("expiresIn"))).isEqualTo(3600);
        assertThat(second.get("refreshToken")).isNotEqualTo(first);
        assertThat(second.get("accessToken")).isNotEqualTo(signedIn.get("accessToken"));
        assertThat(userOf((String) second.get("accessToken"))).isEqualTo(fan.userId());
        balanceWith(second, fan.userId(), 200);
        Map<?, ?> third = refreshed((String) second.get("refreshToken"));
        balanceWith(third, fan.userId(), 200);

        // Only hashes are stored: no row holds a token as given, each holds its SHA-256.
        List<String> hashes = database.sql("SELECT token_hash FROM refresh_token WHERE user_id = :u").bind("u", fan.userId())
                .map(r -> r.get("token_hash", String.class)).all().collectList().block();
        assertThat(hashes).hasSize(3).doesNotContain(first)
                .contains(RefreshTokens.hash(first), RefreshTokens.hash((String) third.get("refreshToken")));
        // An operator's minted token is not renewable: no refresh token comes with it.
        asAdmin().post().uri("/api/v1/admin/users/{u}/access-token", fan.userId()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.refreshToken").doesNotExist();
    }

    /** The owner refreshed; an attacker then replays the old token: 401, and the owner's current token dies with it. */
    @Test
    void aReplayedRefreshTokenRevokesItsWholeFamily() {
        Account fan = account();
        String stolen = (String) login(fan).get("refreshToken");
        Map<?, ?> owners = refreshed(stolen);
        Map<?, ?> otherDevice = login(fan);

        refused(refresh(stolen));
        refused(refresh((String) owners.get("refreshToken")));
        refused(refresh(stolen));
        // Another sign-in (another family) is untouched.
        balanceWith(refreshed((String) otherDevice.get("refreshToken")), fan.userId(), 200);
    }

    /** The thief used the copy first: the owner's next refresh is the reuse, and it ends the thief's chain too. */
    @Test
    void aStolenRefreshTokenUsedFirstByTheThiefIsCutOffWhenTheOwnerComesBack() {
        Account fan = account();
        String copied = (String) login(fan).get("refreshToken");
        Map<?, ?> thiefs = refreshed(copied);
        refused(refresh(copied)); // the owner, still holding the copied one
        refused(refresh((String) thiefs.get("refreshToken")));
    }

    /** A hundred exchanges of one token at once: one wins, and the reuse then revokes the winner's token too. */
    @Test
    void oneTokenExchangedByAHundredRequestsAtOnceYieldsOneSuccessThenTheFamilyIsRevoked() {
        Account fan = account();
        String token = (String) login(fan).get("refreshToken");
        var client = racingClient();
        List<String> outcomes = Flux.range(0, 100)
                .flatMap(i -> client.post().uri("/api/v1/auth/refresh").contentType(MediaType.APPLICATION_JSON)
                        .bodyValue("{\"refreshToken\":\"" + token + "\"}")
                        .exchangeToMono(r -> r.bodyToMono(String.class).map(b -> r.statusCode().value() + " "
                                + (r.statusCode().is2xxSuccessful() ? b.replaceAll(".*\"refreshToken\":\"([^\"]+)\".*", "$1") : ""))), 100)
                .collectList().block(Duration.ofSeconds(60));
        List<String> ok = outcomes.stream().filter(o -> o.startsWith("200 ")).toList();
        assertThat(ok).hasSize(1);
        assertThat(outcomes).filteredOn(o -> o.startsWith("401")).hasSize(99);
        refused(refresh(ok.get(0).substring(4)));
        assertThat(count("SELECT COUNT(*) FROM refresh_token WHERE user_id = " + fan.userId() + " AND revoked_at IS NULL")).isZero();
    }

    @Test
    void signOutRevokesTheChainAndIsIdempotent() {
        Account fan = account();
        Map<?, ?> signedIn = login(fan);
        String next = (String) refreshed((String) signedIn.get("refreshToken")).get("refreshToken");
        logout(next).expectStatus().isNoContent();
        refused(refresh(next));
        refused(refresh((String) signedIn.get("refreshToken")));
        logout(next).expectStatus().isNoContent();
        logout("A".repeat(43)).expectStatus().isNoContent(); // unknown: the same answer, nothing revealed
    }

    @Test
    void expiredAndUnknownRefreshTokensAreRefused() {
        Account fan = account();
        String token = (String) login(fan).get("refreshToken");
        database.sql("UPDATE refresh_token SET expires_at = :t WHERE token_hash = :h")
                .bind("t", java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).minusSeconds(1)).bind("h", RefreshTokens.hash(token))
                .fetch().rowsUpdated().block();
        refused(refresh(token));
        refused(refresh("B".repeat(43)));
    }

    @Test
    void malformedRefreshRequestsAre400AndLookNothingUp() {
        Account fan = account();
        Map<?, ?> signedIn = login(fan);
        for (Object bad : List.<Object>of("", "short", "A".repeat(44), "A".repeat(42) + "=", "A".repeat(42) + "+", "A".repeat(42) + "é",
                12345, true, List.of("x"), signedIn.get("accessToken"))) {
            refresh(bad).expectStatus().isBadRequest()
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        web.post().uri("/api/v1/auth/refresh").contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange()
                .expectStatus().isBadRequest();
        web.post().uri("/api/v1/auth/refresh").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"refreshToken\":\"" + signedIn.get("refreshToken") + "\",\"refreshToken\":\"" + "A".repeat(43) + "\"}").exchange()
                .expectStatus().isBadRequest();
        // A refresh token is no access token.
        web.get().uri("/api/v1/users/{u}/balance", fan.userId()).header(HttpHeaders.AUTHORIZATION, "Bearer " + signedIn.get("refreshToken"))
                .exchange().expectStatus().isUnauthorized();
        // None of that spent the genuine token.
        refreshed((String) signedIn.get("refreshToken"));
    }

    /** A fan waiting past the access token's hour renews it and keeps the same queue place (the pass is the user's). */
    @Test
    void aRenewedSignInKeepsTheQueuePlace() {
        Account fan = account();
        long concert = newConcert();
        pause(concert);
        Map<?, ?> signedIn = login(fan);
        Map<?, ?> joined = web.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .header(HttpHeaders.AUTHORIZATION, "Bearer " + signedIn.get("accessToken"))
                .bodyValue(Map.of("concertId", concert)).exchange().expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        Map<?, ?> renewed = refreshed((String) signedIn.get("refreshToken"));
        Map<?, ?> status = web.get().uri("/api/v1/queues/status").header(HttpHeaders.AUTHORIZATION, "Bearer " + renewed.get("accessToken"))
                .header(QueuePass.HEADER, (String) joined.get("token")).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(status.get("queueId")).isEqualTo(joined.get("queueId"));
        assertThat(status.get("position")).isEqualTo(joined.get("position"));
    }

    private WebTestClient.ResponseSpec logout(String refreshToken) {
        return web.post().uri("/api/v1/auth/logout").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("refreshToken", refreshToken)).exchange();
    }

    private long count(String sql) {
        return database.sql(sql).map(r -> ((Number) r.get(0)).longValue()).one().block();
    }
}
