package com.concertbooking.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;
import org.springframework.security.authentication.ReactiveAuthenticationManagerResolver;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.oauth2.server.resource.authentication.BearerTokenAuthenticationToken;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Verified access tokens are remembered by their text (issue 18), and nothing about which tokens pass changes: a
 * remembered token stops passing when the validator would stop passing it, a changed character is checked in full,
 * a refused token is refused every time. Plain unit test over the real resolver with the development issuer's key.
 */
class VerifiedTokensTest {

    private static ReactiveAuthenticationManagerResolver<ServerWebExchange> resolver(Duration skew) {
        AuthProperties auth = new AuthProperties("", "", "booking-api", skew, "booking.admin",
                new AuthProperties.DevIssuer(true, "booking-dev-issuer", com.concertbooking.support.IntegrationTest.DEV_ISSUER_KEY_PEM,
                        Duration.ofHours(1)),
                new AuthProperties.Login(5, 30, Duration.ofMinutes(1)), Duration.ofHours(12));
        return SecurityConfig.accessTokens(auth, new DevIssuer(auth, Clock.systemUTC()));
    }

    private static Authentication authenticate(ReactiveAuthenticationManagerResolver<ServerWebExchange> resolver, String token) {
        var exchange = MockServerWebExchange.from(MockServerHttpRequest.get("/").header(HttpHeaders.AUTHORIZATION, "Bearer " + token));
        return resolver.resolve(exchange)
                .switchIfEmpty(Mono.error(new IllegalStateException("no authentication manager")))
                .flatMap(manager -> manager.authenticate(new BearerTokenAuthenticationToken(token)))
                .block();
    }

    @Test
    void aVerifiedTokenIsRememberedAndAChangedOneIsCheckedAgain() {
        var resolver = resolver(Duration.ofSeconds(60));
        String token = TestTokens.sign(TestTokens.claims("42").build());
        Authentication first = authenticate(resolver, token);
        assertThat(Caller.userIdOf(first)).hasValue(42L);
        assertThat(authenticate(resolver, token)).as("the second use is the remembered verification").isSameAs(first);

        // The same claims with a forged signature (one character inside the signature changed; the very last one may
        // only carry padding bits): a new text, checked in full.
        int at = token.length() - 10;
        String forged = token.substring(0, at) + (token.charAt(at) == 'A' ? 'B' : 'A') + token.substring(at + 1);
        assertThatThrownBy(() -> authenticate(resolver, forged)).isInstanceOf(AuthenticationException.class);
        assertThatThrownBy(() -> authenticate(resolver, forged)).as("refusals are not remembered").isInstanceOf(AuthenticationException.class);
        // Another key signing the same claims is refused too, although the claims were verified before.
        assertThatThrownBy(() -> authenticate(resolver, TestTokens.signWithFreshKey(TestTokens.claims("42").build())))
                .isInstanceOf(AuthenticationException.class);
    }

    @Test
    void aRememberedTokenStopsPassingAtItsExpiry() throws InterruptedException {
        var resolver = resolver(Duration.ZERO);
        Instant expires = Instant.now().plusSeconds(2);
        String token = TestTokens.sign(TestTokens.claims("7").expirationTime(Date.from(expires)).build());
        assertThat(Caller.userIdOf(authenticate(resolver, token))).hasValue(7L);
        assertThat(Caller.userIdOf(authenticate(resolver, token))).hasValue(7L);
        while (!Instant.now().isAfter(expires.plusMillis(200))) {
            Thread.sleep(100);
        }
        assertThatThrownBy(() -> authenticate(resolver, token)).isInstanceOf(AuthenticationException.class);
    }
}
