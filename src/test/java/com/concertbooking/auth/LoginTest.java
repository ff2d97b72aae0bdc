package com.concertbooking.auth;

import java.time.Duration;
import java.util.Map;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;

/** SPEC 11, the development issuer: password login, uniform failures, throttling, JWKS, minted tokens. */
@ExtendWith(OutputCaptureExtension.class)
class LoginTest extends IntegrationTest {

    @Autowired
    ReactiveStringRedisTemplate redis;

    @Autowired
    Passwords passwords;

    @Autowired
    DevIssuer devIssuer;

    private record Account(long userId, String username, String password) {}

    private Account account(long balance) {
        String username = unique("login");
        String password = "pw-" + username + "-secret";
        Map<String, Object> created = asAdmin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", username, "password", password, "balance", balance)).exchange()
                .expectStatus().isCreated().expectBody(new org.springframework.core.ParameterizedTypeReference<Map<String, Object>>() {})
                .returnResult().getResponseBody();
        assertThat(created).containsEntry("username", username).containsEntry("balance", (int) balance).doesNotContainKey("password");
        return new Account(((Number) created.get("userId")).longValue(), username, password);
    }

    private WebTestClient.ResponseSpec login(String username, String password) {
        return web.post().uri("/api/v1/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", username, "password", password)).exchange();
    }

    @Test
    void aFanSignsInAndActsOnlyAsThemself(CapturedOutput output) {
        Account fan = account(1234);
        Map<?, ?> token = login(fan.username(), fan.password()).expectStatus().isOk()
                .expectHeader().cacheControl(org.springframework.http.CacheControl.noStore())
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(token.get("tokenType")).isEqualTo("Bearer");
        assertThat(((Number) token.get("expiresIn")).longValue()).isEqualTo(3600);
        String bearer = "Bearer " + token.get("accessToken");
        assertThat(userOf((String) token.get("accessToken"))).isEqualTo(fan.userId());
        web.get().uri("/api/v1/users/{id}/balance", fan.userId()).header(HttpHeaders.AUTHORIZATION, bearer).exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.balance").isEqualTo(1234);
        web.get().uri("/api/v1/users/{id}/balance", fan.userId() + 1).header(HttpHeaders.AUTHORIZATION, bearer).exchange()
                .expectStatus().isForbidden();
        // Case does not make another account.
        login(fan.username().toUpperCase(), fan.password()).expectStatus().isOk();

        // Stored only as a hash, and never written to the log.
        String stored = database.sql("SELECT password_hash FROM users WHERE id = :id").bind("id", fan.userId())
                .map(r -> r.get("password_hash", String.class)).one().block();
        assertThat(stored).startsWith("{bcrypt}$2").doesNotContain(fan.password());
        assertThat(output.getAll()).doesNotContain(fan.password());
    }

    @Test
    void unknownUsersAndWrongPasswordsGetTheSameAnswer() {
        Account fan = account(0);
        var wrong = login(fan.username(), fan.password() + "x").expectStatus().isUnauthorized()
                .expectBody(Map.class).returnResult().getResponseBody();
        var unknown = login(unique("nobody"), "whatever-password").expectStatus().isUnauthorized()
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(wrong.get("code")).isEqualTo("INVALID_CREDENTIALS");
        wrong.remove("instance");
        unknown.remove("instance");
        assertThat(unknown).isEqualTo(wrong);
        // A user without a password (tokens minted or from another provider) cannot sign in by password.
        long passwordless = createUser(0);
        String name = database.sql("SELECT username FROM users WHERE id = :id").bind("id", passwordless)
                .map(r -> r.get("username", String.class)).one().block();
        login(name, "").expectStatus().isBadRequest();
        login(name, "anything").expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("INVALID_CREDENTIALS");
        for (String body : new String[] {"{}", "{\"username\":\"a\"}", "{\"username\":\"a\",\"password\":\"b\",\"password\":\"c\"}",
                "{\"username\":1,\"password\":2}", "[]", "{\"username\":\"" + "u".repeat(101) + "\",\"password\":\"p\"}"}) {
            web.post().uri("/api/v1/auth/login").contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                    .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
    }

    /**
     * The same work for a miss as for a wrong password: an unknown user is checked against a decoy hash made by the same
     * encoder, so both answers cost one bcrypt check of the same strength (the times are in docs/benchmarks.md).
     */
    @Test
    void aMissCostsOneHashCheckOfTheSameStrength() throws Exception {
        var decoy = Passwords.class.getDeclaredField("decoy");
        decoy.setAccessible(true);
        String decoyHash = (String) decoy.get(passwords);
        String real = passwords.hash("some-password").block();
        assertThat(decoyHash.substring(0, 15)).isEqualTo(real.substring(0, 15)); // {bcrypt}$2a$10$: same scheme and cost
        StepVerifier.create(passwords.matches("some-password", null)).expectNext(false).verifyComplete();
        StepVerifier.create(passwords.matches("some-password", real)).expectNext(true).verifyComplete();
        StepVerifier.create(passwords.matches("some-password", "not-a-hash")).expectNext(false).verifyComplete();
    }

    @Test
    void failedLoginsAreThrottledPerUsername() {
        Account fan = account(0);
        for (int i = 0; i < 5; i++) {
            login(fan.username(), "wrong-password-" + i).expectStatus().isUnauthorized();
        }
        // Over the limit, even the right password waits: 429 with Retry-After, for this username only.
        login(fan.username(), fan.password()).expectStatus().isEqualTo(429)
                .expectHeader().exists(HttpHeaders.RETRY_AFTER)
                .expectBody().jsonPath("$.code").isEqualTo("TOO_MANY_REQUESTS");
        Account other = account(0);
        login(other.username(), other.password()).expectStatus().isOk();
    }

    /**
     * Issue 16: the per-username limit counted the name's bytes while the account was found under a collation that
     * folds case, trailing spaces, accents and widths, so a locked account signed in as "name ", "nåme" or "ｎａｍｅ".
     * Now such spellings are no username at all (400), and the limit counts the account: the same name in other
     * letter case is the same account, still locked.
     */
    @Test
    void theLimitCountsTheAccountHoweverItsNameIsWritten() {
        Account fan = account(0);
        for (int i = 0; i < 5; i++) {
            login(fan.username(), "wrong-password-" + i).expectStatus().isUnauthorized();
        }
        String name = fan.username();
        for (String spelling : new String[] {name + " ", " " + name, name + "\t", name + "\u0000", name.replace('o', '\u00f3'),
                name.replace("o", "o\u0301"), fullwidth(name), name.replace('-', '\u2010')}) {
            login(spelling, fan.password()).expectStatus().isBadRequest()
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        login(name.toUpperCase(), fan.password()).expectStatus().isEqualTo(429).expectHeader().exists(HttpHeaders.RETRY_AFTER);
        login(name, fan.password()).expectStatus().isEqualTo(429);
    }

    /** Count first, then check: 20 wrong passwords at once get 5 checks (401) and 15 refusals (429), not 20 checks. */
    @Test
    void parallelGuessesStopAtTheLimit() {
        Account fan = account(0);
        String address = "auth:login:{addr:127.0.0.1}";
        redis.delete(address).block(Duration.ofSeconds(5));
        try {
            var client = racingClient();
            java.util.List<Integer> statuses = reactor.core.publisher.Flux.range(0, 20)
                    .flatMap(i -> client.post().uri("/api/v1/auth/login").contentType(MediaType.APPLICATION_JSON)
                            .bodyValue("{\"username\":\"" + fan.username() + "\",\"password\":\"guess-number-" + i + "\"}")
                            .exchangeToMono(r -> r.releaseBody().thenReturn(r.statusCode().value())), 20)
                    .collectList().block(Duration.ofSeconds(60));
            assertThat(statuses).filteredOn(s -> s == 401).as("guesses checked").hasSize(5);
            assertThat(statuses).filteredOn(s -> s == 429).as("guesses refused unchecked").hasSize(15);
            login(fan.username(), fan.password()).expectStatus().isEqualTo(429);
        } finally {
            redis.delete(address).block(Duration.ofSeconds(5)); // other tests sign in from this address too
        }
    }

    /** SPEC 11: passwords are 8 to 72 bytes (bcrypt's limit); a 100-byte password was a 500 from the encoder. */
    @Test
    void passwordsAreEightToSeventyTwoBytes() {
        for (String password : new String[] {"x".repeat(100), "x".repeat(73), "\u00e9".repeat(37), "x".repeat(7), "\u00e9".repeat(3)}) {
            asAdmin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("username", unique("pw"), "password", password)).exchange()
                    .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
            login(unique("nobody"), password).expectStatus().isBadRequest();
        }
        for (String password : new String[] {"x".repeat(72), "\u00e9".repeat(36), "x".repeat(8)}) {
            String name = unique("pw");
            asAdmin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("username", name, "password", password)).exchange().expectStatus().isCreated();
            login(name, password).expectStatus().isOk();
        }
    }

    private static String fullwidth(String ascii) {
        StringBuilder out = new StringBuilder();
        ascii.chars().forEach(c -> out.append((char) (c > 0x20 && c < 0x7f ? c - 0x21 + 0xFF01 : c)));
        return out.toString();
    }

    @Test
    void loginsAreThrottledPerClientAddress() {
        String key = "auth:login:{addr:127.0.0.1}";
        redis.delete(key).block(Duration.ofSeconds(5));
        try {
            int answered429 = 0;
            for (int i = 0; i < 32; i++) {
                int status = login(unique("spray"), "password-" + i).returnResult(Void.class).getStatus().value();
                if (status == 429) {
                    answered429++;
                } else {
                    assertThat(status).isEqualTo(401);
                }
            }
            assertThat(answered429).as("attempts over 30 a minute from one address").isEqualTo(2);
        } finally {
            redis.delete(key).block(Duration.ofSeconds(5)); // other tests sign in from this address too
        }
    }

    @Test
    void publicKeysAreServedAndVerifyTheIssuersTokens() throws Exception {
        Map<?, ?> jwks = web.get().uri("/.well-known/jwks.json").exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
        var keys = (java.util.List<?>) jwks.get("keys");
        assertThat(keys).hasSize(1);
        @SuppressWarnings("unchecked")
        Map<String, Object> key = (Map<String, Object>) keys.get(0);
        assertThat(key).containsEntry("kty", "RSA").containsEntry("alg", "RS256").containsEntry("use", "sig").containsKey("kid")
                .doesNotContainKeys("d", "p", "q", "dp", "dq", "qi");
        @SuppressWarnings("unchecked")
        var set = com.nimbusds.jose.jwk.JWKSet.parse((Map<String, Object>) jwks);
        var token = com.nimbusds.jwt.SignedJWT.parse(devIssuer.mintNow(createUser(0), null).accessToken());
        assertThat(token.getHeader().getKeyID()).isEqualTo(key.get("kid"));
        assertThat(token.verify(new com.nimbusds.jose.crypto.RSASSAVerifier(((com.nimbusds.jose.jwk.RSAKey) set.getKeys().get(0)).toRSAPublicKey())))
                .isTrue();
    }

    @Test
    void operatorsMintTokensForExistingUsers() {
        long fan = createUser(55);
        Map<?, ?> minted = asAdmin().post().uri("/api/v1/admin/users/{id}/access-token", fan).exchange()
                .expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        web.get().uri("/api/v1/users/{id}/balance", fan).header(HttpHeaders.AUTHORIZATION, "Bearer " + minted.get("accessToken")).exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.balance").isEqualTo(55);
        asAdmin().post().uri("/api/v1/admin/users/{id}/access-token", Long.MAX_VALUE).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("USER_NOT_FOUND");
        web.post().uri("/api/v1/admin/users/{id}/access-token", fan).exchange().expectStatus().isUnauthorized();
        asUser(fan).post().uri("/api/v1/admin/users/{id}/access-token", fan).exchange().expectStatus().isForbidden();
    }

    /** Hashing and signing are CPU work of milliseconds: they run on the auth-crypto threads, never an event loop. */
    @Test
    void hashingAndSigningRunOffTheEventLoops() {
        StepVerifier.create(passwords.hash("x-password").map(h -> Thread.currentThread().getName()))
                .assertNext(thread -> assertThat(thread).startsWith("auth-crypto")).verifyComplete();
        StepVerifier.create(devIssuer.mint(1, "x").map(t -> Thread.currentThread().getName()))
                .assertNext(thread -> assertThat(thread).startsWith("auth-crypto")).verifyComplete();
    }

    @Test
    void usernamesAreUniqueAndWellFormed() {
        Account fan = account(0);
        asAdmin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", fan.username().toUpperCase(), "password", "another-password")).exchange()
                .expectStatus().isEqualTo(409).expectBody().jsonPath("$.code").isEqualTo("USERNAME_TAKEN");
        for (Object name : new Object[] {"ab", "has space", "x".repeat(65), "x".repeat(101), "", 5, "caf\u00e9", "\uFF46\uFF41\uFF4E"}) {
            asAdmin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("username", name, "password", "long-enough")).exchange()
                    .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        asAdmin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", unique("shortpw"), "password", "short")).exchange()
                .expectStatus().isBadRequest();
    }
}
