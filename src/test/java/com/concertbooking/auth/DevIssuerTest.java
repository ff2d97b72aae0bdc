package com.concertbooking.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springframework.security.oauth2.jwt.Jwt;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Plain unit test of the development issuer's keys: one PEM, many instances, one key id. */
class DevIssuerTest {

    private static AuthProperties settings(String pem) {
        return new AuthProperties("", "", "booking-api", Duration.ofSeconds(60), "booking.admin",
                new AuthProperties.DevIssuer(true, "booking-dev-issuer", pem, Duration.ofHours(1)),
                new AuthProperties.Login(5, 30, Duration.ofMinutes(1)), Duration.ofHours(12));
    }

    @Test
    void instancesSharingAPemAcceptEachOthersTokens() {
        Clock clock = Clock.fixed(Instant.now(), ZoneOffset.UTC);
        DevIssuer one = new DevIssuer(settings(IntegrationTest.DEV_ISSUER_KEY_PEM), clock);
        DevIssuer two = new DevIssuer(settings(IntegrationTest.DEV_ISSUER_KEY_PEM), clock);
        assertThat(one.publicJwks()).isEqualTo(two.publicJwks());
        String token = one.mintNow(7, "fan7").accessToken();
        StepVerifier.create(two.decoder().decode(token))
                .assertNext((Jwt jwt) -> {
                    assertThat(jwt.getSubject()).isEqualTo("7");
                    assertThat(jwt.getClaimAsString("iss")).isEqualTo("booking-dev-issuer");
                    assertThat(jwt.getAudience()).containsExactly("booking-api");
                    assertThat(jwt.getExpiresAt()).isEqualTo(clock.instant().plus(Duration.ofHours(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
                    assertThat(jwt.getClaimAsString("preferred_username")).isEqualTo("fan7");
                })
                .verifyComplete();
    }

    @Test
    void generatedKeysDifferPerStartAndBadPemsStopTheStart() {
        DevIssuer one = new DevIssuer(settings(""), Clock.systemUTC());
        DevIssuer two = new DevIssuer(settings(""), Clock.systemUTC());
        assertThat(one.publicJwks()).isNotEqualTo(two.publicJwks());
        StepVerifier.create(two.decoder().decode(one.mintNow(1, null).accessToken())).expectError().verify();
        assertThatThrownBy(() -> new DevIssuer(settings("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"), Clock.systemUTC()))
                .isInstanceOf(IllegalStateException.class);
    }
}
