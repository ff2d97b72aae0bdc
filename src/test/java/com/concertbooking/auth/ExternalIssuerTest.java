package com.concertbooking.auth;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.util.concurrent.atomic.AtomicInteger;

import com.concertbooking.support.IntegrationTest;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 11 with an external identity provider: a separate local HTTP server publishes a JWK set (and an OIDC discovery
 * document) for an RSA key generated here, which the service has never seen before it starts. The service finds the
 * keys by {@code booking.auth.jwk-set-uri}, checks the issuer of {@code booking.auth.issuer-uri}, and takes that
 * provider's users and operators (scope {@code booking.admin}) alongside its own development issuer's.
 */
class ExternalIssuerTest extends IntegrationTest {

    static final String ISSUER = "https://idp.test.example";
    static final RSAKey PROVIDER_KEY = generate("provider-key-1");
    static final AtomicInteger JWKS_REQUESTS = new AtomicInteger();
    static HttpServer provider;

    @DynamicPropertySource
    static void externalProvider(DynamicPropertyRegistry registry) throws IOException {
        provider = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        String jwks = new JWKSet(PROVIDER_KEY.toPublicJWK()).toString();
        provider.createContext("/keys", exchange -> {
            JWKS_REQUESTS.incrementAndGet();
            byte[] body = jwks.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        provider.start();
        registry.add("booking.auth.issuer-uri", () -> ISSUER);
        registry.add("booking.auth.jwk-set-uri", () -> "http://127.0.0.1:" + provider.getAddress().getPort() + "/keys");
    }

    @AfterAll
    static void stop() {
        provider.stop(0);
    }

    static RSAKey generate(String kid) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            var pair = generator.generateKeyPair();
            return new RSAKey.Builder((RSAPublicKey) pair.getPublic()).privateKey((RSAPrivateKey) pair.getPrivate()).keyID(kid).build();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String providerToken(JWTClaimsSet claims, RSAKey key) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(), claims);
            jwt.sign(new RSASSASigner(key));
            return jwt.serialize();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static JWTClaimsSet.Builder providerClaims(String subject) {
        return TestTokens.claims(subject).issuer(ISSUER);
    }

    @Test
    void theProvidersUsersAndOperatorsAreRecognised() {
        long fan = createUser(4321);
        String token = providerToken(providerClaims(Long.toString(fan)).build(), PROVIDER_KEY);
        web.get().uri("/api/v1/users/{id}/balance", fan).header(HttpHeaders.AUTHORIZATION, "Bearer " + token).exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.balance").isEqualTo(4321);
        web.get().uri("/api/v1/users/{id}/balance", fan + 1).header(HttpHeaders.AUTHORIZATION, "Bearer " + token).exchange()
                .expectStatus().isForbidden();
        assertThat(JWKS_REQUESTS.get()).as("keys fetched from the provider").isPositive();

        String operator = providerToken(providerClaims("ops@example").claim("scope", "openid booking.admin").build(), PROVIDER_KEY);
        web.get().uri("/api/v1/admin/notifications?userId=1").header(HttpHeaders.AUTHORIZATION, "Bearer " + operator).exchange()
                .expectStatus().isOk();
        String notOperator = providerToken(providerClaims("ops@example").claim("scope", "openid").build(), PROVIDER_KEY);
        web.get().uri("/api/v1/admin/notifications?userId=1").header(HttpHeaders.AUTHORIZATION, "Bearer " + notOperator).exchange()
                .expectStatus().isForbidden();
        // The development issuer works beside it.
        web.get().uri("/api/v1/users/{id}/balance", fan).header(HttpHeaders.AUTHORIZATION, bearerFor(fan)).exchange().expectStatus().isOk();
    }

    @Test
    void tokensThatTheProviderDidNotIssueAreRefused() {
        long fan = createUser(0);
        String path = "/api/v1/users/" + fan + "/balance";
        // Signed by a key the provider does not publish, under its issuer.
        String foreign = providerToken(providerClaims(Long.toString(fan)).build(), generate("provider-key-1"));
        // The provider's key, but another issuer or another audience.
        String otherIssuer = providerToken(providerClaims(Long.toString(fan)).issuer("https://other.example").build(), PROVIDER_KEY);
        String otherAudience = providerToken(providerClaims(Long.toString(fan)).audience("another-api").build(), PROVIDER_KEY);
        // The provider's key under the development issuer's name: each issuer is verified with its own keys only.
        String crossed = providerToken(TestTokens.claims(Long.toString(fan)).build(), PROVIDER_KEY);
        for (String token : new String[] {foreign, otherIssuer, otherAudience, crossed}) {
            web.get().uri(path).header(HttpHeaders.AUTHORIZATION, "Bearer " + token).exchange()
                    .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        }
    }
}
