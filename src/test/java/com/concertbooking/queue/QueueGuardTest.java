package com.concertbooking.queue;

import com.concertbooking.auth.QueuePass;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;

/** SPEC section 3, Queue column and queue-token rules, at the HTTP boundary (the caller is signed in throughout). */
class QueueGuardTest extends QueueTestSupport {

    /** Seats as this user, presenting this queue token (null: none). */
    private WebTestClient.ResponseSpec seats(long dateId, long userId, String queueToken) {
        var spec = asUser(userId).get().uri("/api/v1/concerts/dates/{id}/seats", dateId);
        if (queueToken != null) {
            spec = spec.header(QueuePass.HEADER, queueToken);
        }
        return spec.exchange();
    }

    private static void expect(WebTestClient.ResponseSpec response, int status, String code) {
        response.expectStatus().isEqualTo(status)
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.code").isEqualTo(code);
    }

    private static String sign(String secret, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(secret.getBytes(StandardCharsets.UTF_8)));
        return jwt.serialize();
    }

    @Test
    void seatsNeedALiveActiveTokenOfTheDatesConcert() throws Exception {
        var concert = createConcert(12);
        long dateId = concert.firstDateId();
        long user = freshUserId();
        pause(concert.concertId());

        expect(web.get().uri("/api/v1/concerts/dates/{id}/seats", dateId).exchange(), 401, "UNAUTHENTICATED");
        expect(seats(dateId, user, null), 401, "TOKEN_MISSING");
        expect(seats(dateId, user, "garbage"), 401, "TOKEN_INVALID");
        expect(seats(dateId, user, ""), 401, "TOKEN_INVALID");
        expect(seats(dateId, user, "a.b.c"), 401, "TOKEN_INVALID");

        String waiting = token(user, concert.concertId());
        expect(seats(dateId, user, waiting), 403, "TOKEN_NOT_ACTIVE");

        // Forged: the right claims signed with another key; tampered: a genuine token with its user swapped.
        JWTClaimsSet claims = SignedJWT.parse(waiting).getJWTClaimsSet();
        expect(seats(dateId, user, sign("another-secret-another-secret-another-secret", claims)), 401, "TOKEN_INVALID");
        String[] parts = waiting.split("\\.");
        String otherUser = Base64.getUrlEncoder().withoutPadding().encodeToString(
                new JWTClaimsSet.Builder(claims).subject(Long.toString(user + 1)).build().toString().getBytes(StandardCharsets.UTF_8));
        expect(seats(dateId, user, parts[0] + "." + otherUser + "." + parts[2]), 401, "TOKEN_INVALID");
        // alg=none is never accepted
        String none = Base64.getUrlEncoder().withoutPadding().encodeToString("{\"alg\":\"none\"}".getBytes(StandardCharsets.UTF_8));
        expect(seats(dateId, user, none + "." + parts[1] + "."), 401, "TOKEN_INVALID");

        assertThat(admit(concert.concertId(), 1)).isEqualTo(1);
        seats(dateId, user, waiting).expectStatus().isOk()
                .expectBody().jsonPath("$.concertDateId").isEqualTo(dateId).jsonPath("$.seats.length()").isEqualTo(12);
        // HEAD is GET: the same rules, no body.
        asUser(user).head().uri("/api/v1/concerts/dates/{id}/seats", dateId).header(QueuePass.HEADER, waiting).exchange()
                .expectStatus().isOk();
        web.head().uri("/api/v1/concerts/dates/{id}/seats", dateId).header(QueuePass.HEADER, waiting).exchange()
                .expectStatus().isUnauthorized();

        // Another user's access token with this (stolen) queue token: 403, the seat map stays closed.
        expect(seats(dateId, freshUserId(), waiting), 403, "FORBIDDEN");
        // A date of another concert: 403 FORBIDDEN even with an active token.
        long otherDate = createConcert(5).firstDateId();
        expect(seats(otherDate, user, waiting), 403, "FORBIDDEN");
        // An unknown date is the handler's 404, a bad id its 400.
        expect(seats(Long.MAX_VALUE, user, waiting), 404, "CONCERT_DATE_NOT_FOUND");
        expect(asUser(user).get().uri("/api/v1/concerts/dates/abc/seats").header(QueuePass.HEADER, waiting).exchange(),
                400, "VALIDATION_FAILED");

        // Ended (left): dead everywhere, 401 TOKEN_EXPIRED.
        withQueueToken(waiting).delete().uri("/api/v1/queues/token").exchange().expectStatus().isNoContent();
        expect(seats(dateId, user, waiting), 401, "TOKEN_EXPIRED");
        expect(status(waiting), 401, "TOKEN_EXPIRED");
    }

    @Test
    void anActivePassExpiresExactlyAtItsEnd() {
        var concert = createConcert(12);
        long concertId = concert.concertId();
        policy(concertId, Map.of("admitPerTick", 0, "maxActive", 10, "activeTtlSeconds", 1));
        long user = freshUserId();
        String token = token(user, concertId);
        admit(concertId, 1);
        Map<?, ?> active = statusBody(token);
        assertThat(active.get("status")).isEqualTo("ACTIVE");
        java.time.Instant until = java.time.Instant.parse((String) active.get("activeUntil"));
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> java.time.Instant.now().isAfter(until.plusMillis(50)));
        expect(seats(concert.firstDateId(), user, token), 401, "TOKEN_EXPIRED");
        assertThat(num(queueView(concertId).get("active"))).isZero();
    }

    @Test
    void expiredClaimIsRejectedEvenWithAValidSignature() throws Exception {
        var concert = createConcert(12);
        long user = freshUserId();
        String secret = "test-secret-test-secret-test-secret-0123456789"; // IntegrationTest's booking.token.secret
        JWTClaimsSet claims = new JWTClaimsSet.Builder().subject(Long.toString(user)).claim("cid", concert.concertId()).jwtID("x")
                .expirationTime(new java.util.Date(System.currentTimeMillis() - 1000)).build();
        expect(seats(concert.firstDateId(), user, sign(secret, claims)), 401, "TOKEN_EXPIRED");
        // Genuine signature, but an entry id the queue never issued: not live, so expired.
        JWTClaimsSet unknownEntry = new JWTClaimsSet.Builder().subject(Long.toString(user)).claim("cid", concert.concertId())
                .jwtID("never-issued").build();
        expect(seats(concert.firstDateId(), user, sign(secret, unknownEntry)), 401, "TOKEN_EXPIRED");
    }

    @Test
    void manyActiveTokensAtOnceForOneConcert() {
        var concert = createConcert(12);
        List<Long> users = List.of(freshUserId(), freshUserId(), freshUserId());
        Map<Long, String> tokens = activeTokens(concert.concertId(), users);
        for (long user : users) {
            seats(concert.firstDateId(), user, tokens.get(user)).expectStatus().isOk();
        }
    }

    @Test
    void holdsAndPaymentsNeedAnActiveToken() {
        long concertId = newConcert();
        pause(concertId);
        long user = freshUserId();
        String waiting = token(user, concertId);
        for (String path : new String[] {"/api/v1/reservations", "/api/v1/payments/pay"}) {
            expect(web.post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange(), 401, "UNAUTHENTICATED");
            expect(asUser(user).post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange(), 401, "TOKEN_MISSING");
            expect(withQueueToken(waiting).post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange(),
                    403, "TOKEN_NOT_ACTIVE");
        }
    }

    /** SPEC 4.4: a payment retry with an Idempotency-Key gets past the guard after the pass ended; nothing else does. */
    @Test
    void endedPassStillReachesThePaymentHandlerOnlyForAnIdempotentRetry() {
        long user = freshUserId();
        long concertId = newConcert();
        String token = activeToken(user, concertId);
        withQueueToken(token).delete().uri("/api/v1/queues/token").exchange().expectStatus().isNoContent();
        var retry = withQueueToken(token).post().uri("/api/v1/payments/pay")
                .header("Idempotency-Key", "k-1").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reservationId", Long.MAX_VALUE, "userId", user)).exchange()
                .expectBody(Map.class).returnResult();
        // It reached the payment handler (booking branch), which answers 401 TOKEN_EXPIRED itself when it has no stored
        // response to replay for this key (PaymentApiTest covers the replay); the guard's own 401 names no key.
        assertThat(retry.getStatus().value()).isEqualTo(401);
        assertThat(String.valueOf(retry.getResponseBody().get("detail"))).contains("Idempotency-Key");
        expect(withQueueToken(token).post().uri("/api/v1/payments/pay")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("reservationId", 1, "userId", user)).exchange(),
                401, "TOKEN_EXPIRED");
        expect(withQueueToken(token).post().uri("/api/v1/reservations")
                .header("Idempotency-Key", "k-1").contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange(),
                401, "TOKEN_EXPIRED");
        // A forged token gets nothing, Idempotency-Key or not; the genuine ended one is nothing to another user.
        expect(asUser(user).post().uri("/api/v1/payments/pay").header(QueuePass.HEADER, "x" + token)
                .header("Idempotency-Key", "k-1").contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange(),
                401, "TOKEN_INVALID");
        expect(asUser(freshUserId()).post().uri("/api/v1/payments/pay").header(QueuePass.HEADER, token)
                .header("Idempotency-Key", "k-1").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reservationId", 1)).exchange(), 403, "FORBIDDEN");
    }

    @Test
    void endPassKillsTheTokenAndFreesTheSlot(@org.springframework.beans.factory.annotation.Autowired QueueService queue) {
        long user = freshUserId();
        long concertId = newConcert();
        String token = activeToken(user, concertId);
        assertThat(num(queueView(concertId).get("active"))).isEqualTo(1);
        var pass = new com.concertbooking.auth.ActivePass(user, concertId, entryOf(token));
        reactor.test.StepVerifier.create(queue.endPass(pass)).verifyComplete();
        assertThat(num(queueView(concertId).get("active"))).isZero();
        expect(status(token), 401, "TOKEN_EXPIRED");
        // A new token for the same user queues afresh with a new entry.
        Map<?, ?> again = asUser(user).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concertId)).exchange()
                .expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        assertThat(again.get("token")).isNotEqualTo(token);
    }

    /** Routes without a Queue column ignore queue tokens: only the access token decides there. */
    @Test
    void routesThatNeedNoQueueTokenIgnoreOne() {
        long owner = createUser(500);
        long concertId = newConcert();
        pause(concertId);
        String token = token(owner, concertId);
        withQueueToken(token).delete().uri("/api/v1/queues/token").exchange().expectStatus().isNoContent();
        withQueueToken(token).get().uri("/api/v1/users/{id}/balance", owner).exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.balance").isEqualTo(500);
        asUser(owner).get().uri("/api/v1/users/{id}/balance", owner).header(QueuePass.HEADER, "nonsense").exchange()
                .expectStatus().isOk();
    }

    private static String entryOf(String token) {
        try {
            return SignedJWT.parse(token).getJWTClaimsSet().getJWTID();
        } catch (java.text.ParseException e) {
            throw new IllegalStateException(e);
        }
    }
}
