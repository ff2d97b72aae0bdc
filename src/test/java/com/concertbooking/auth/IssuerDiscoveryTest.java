package com.concertbooking.auth;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;
import org.springframework.security.core.Authentication;
import org.springframework.security.oauth2.server.resource.authentication.BearerTokenAuthenticationToken;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * The other way to an external identity provider (SPEC 11): only {@code booking.auth.issuer-uri} is set, and the keys
 * are found by OIDC discovery ({@code /.well-known/openid-configuration} then its {@code jwks_uri}) on a separate
 * local HTTP server. Drives the service's own access-token resolution ({@link SecurityConfig#accessTokens}) with
 * Spring Security's decoders; no application context is needed for this one path.
 */
class IssuerDiscoveryTest {

    HttpServer provider;
    String issuer;
    final RSAKey key = ExternalIssuerTest.generate("discovered-key");

    @BeforeEach
    void startProvider() throws IOException {
        provider = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        issuer = "http://127.0.0.1:" + provider.getAddress().getPort() + "/realm";
        serve("/realm/.well-known/openid-configuration", "{\"issuer\":\"" + issuer + "\",\"jwks_uri\":\"" + issuer + "/keys\","
                + "\"subject_types_supported\":[\"public\"],\"id_token_signing_alg_values_supported\":[\"RS256\"]}");
        serve("/realm/keys", new JWKSet(key.toPublicJWK()).toString());
        provider.start();
    }

    private void serve(String path, String json) {
        provider.createContext(path, exchange -> {
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
    }

    @AfterEach
    void stop() {
        provider.stop(0);
    }

    private Mono<Authentication> authenticate(String token) {
        AuthProperties auth = new AuthProperties(issuer, "", "booking-api", Duration.ofSeconds(60), "booking.admin",
                new AuthProperties.DevIssuer(false, "booking-dev-issuer", "", Duration.ofHours(1)),
                new AuthProperties.Login(5, 30, Duration.ofMinutes(1)), Duration.ofHours(12));
        DevIssuer disabled = new DevIssuer(auth, Clock.systemUTC());
        var exchange = MockServerWebExchange.from(MockServerHttpRequest.get("/").header(HttpHeaders.AUTHORIZATION, "Bearer " + token));
        return SecurityConfig.accessTokens(auth, disabled).resolve(exchange)
                .switchIfEmpty(Mono.error(new IllegalStateException("no authentication manager for this token's issuer")))
                .flatMap(manager -> manager.authenticate(new BearerTokenAuthenticationToken(token)));
    }

    @Test
    void keysFoundByDiscoveryVerifyTheProvidersTokens() {
        String token = ExternalIssuerTest.providerToken(TestTokens.claims("42").issuer(issuer).build(), key);
        StepVerifier.create(authenticate(token))
                .assertNext(a -> org.assertj.core.api.Assertions.assertThat(Caller.userIdOf(a)).hasValue(42L))
                .verifyComplete();
    }

    @Test
    void anotherKeyOrIssuerOrADisabledDevIssuerGetsNothing() {
        StepVerifier.create(authenticate(ExternalIssuerTest.providerToken(TestTokens.claims("42").issuer(issuer).build(),
                ExternalIssuerTest.generate("discovered-key")))).expectError().verify(Duration.ofSeconds(10));
        StepVerifier.create(authenticate(ExternalIssuerTest.providerToken(TestTokens.claims("42").issuer(issuer + "x").build(), key)))
                .expectError().verify(Duration.ofSeconds(10));
        // With the development issuer off (prod), its tokens are nobody's.
        StepVerifier.create(authenticate(TestTokens.sign(TestTokens.claims("42").build()))).expectError().verify(Duration.ofSeconds(10));
    }
}
