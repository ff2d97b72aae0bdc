package com.concertbooking.auth;

import java.time.Duration;
import java.util.List;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.http.HttpHeaders;
import org.springframework.test.context.TestPropertySource;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 11: wrong admin keys are throttled per client address like logins. Issue 16 sent 300 wrong keys in 3 s and none
 * was refused. In a context of its own with the real limit (the shared test context raises it: all its callers share
 * 127.0.0.1, and some send wrong keys on purpose).
 */
@TestPropertySource(properties = "booking.admin.max-failures-per-address=10")
class AdminKeyThrottleTest extends IntegrationTest {

    private static final String COUNTER = "auth:admin-key:{addr:127.0.0.1}";

    @Autowired
    ReactiveStringRedisTemplate redis;

    @BeforeEach
    @AfterEach
    void forgetWrongKeys() {
        redis.delete(COUNTER).block(Duration.ofSeconds(5));
    }

    @Test
    void wrongAdminKeysStopAtTheLimitPerAddress() {
        var client = racingClient();
        List<Integer> statuses = Flux.range(0, 300)
                .flatMap(i -> client.get().uri("/api/v1/admin/notifications?userId=1").header(SecurityConfig.ADMIN_KEY_HEADER, "guess-" + i)
                        .exchangeToMono(r -> r.releaseBody().thenReturn(r.statusCode().value())), 50)
                .collectList().block(Duration.ofSeconds(120));
        // At most the limit is answered as a plain 401; the rest are 429 (or 503 where this busy machine made a Redis call
        // time out: such a key is refused too, never let through uncounted).
        assertThat(statuses).hasSize(300).allMatch(s -> s == 401 || s == 429 || s == 503);
        assertThat(statuses).filteredOn(s -> s == 401).as("wrong keys answered as wrong").hasSizeBetween(1, 10);
        assertThat(statuses).filteredOn(s -> s == 429).as("wrong keys refused unchecked").hasSizeGreaterThanOrEqualTo(250);
        // Over the limit the right key waits too (it could be the 301st guess), with Retry-After; the probes do not care.
        web.get().uri("/api/v1/admin/notifications?userId=1").header(SecurityConfig.ADMIN_KEY_HEADER, ADMIN_KEY).exchange()
                .expectStatus().isEqualTo(429).expectHeader().exists(HttpHeaders.RETRY_AFTER)
                .expectBody().jsonPath("$.code").isEqualTo("TOO_MANY_REQUESTS");
        web.get().uri("/actuator/health/liveness").header(SecurityConfig.ADMIN_KEY_HEADER, "guess").exchange().expectStatus().isOk();
        // Operators with an admin token are not held up by someone else's guesses; the window's end frees the address.
        String adminToken = TestTokens.sign(TestTokens.claims("ops-team").claim("scope", "booking.admin").build());
        web.get().uri("/api/v1/admin/notifications?userId=1").header(HttpHeaders.AUTHORIZATION, "Bearer " + adminToken).exchange()
                .expectStatus().isOk();
        forgetWrongKeys();
        web.get().uri("/api/v1/admin/notifications?userId=1").header(SecurityConfig.ADMIN_KEY_HEADER, ADMIN_KEY).exchange()
                .expectStatus().isOk();
    }

    @Test
    void rightKeysAreNotCountedAndAFewWrongOnesDoNotLockAnOperatorOut() {
        for (int i = 0; i < 9; i++) {
            web.get().uri("/api/v1/admin/notifications?userId=1").header(SecurityConfig.ADMIN_KEY_HEADER, "typo-" + i).exchange()
                    .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("ADMIN_KEY_INVALID");
        }
        for (int i = 0; i < 50; i++) {
            web.get().uri("/api/v1/admin/notifications?userId=1").header(SecurityConfig.ADMIN_KEY_HEADER, ADMIN_KEY).exchange()
                    .expectStatus().isOk();
        }
        assertThat(redis.opsForValue().get(COUNTER).block(Duration.ofSeconds(5))).isEqualTo("9");
    }
}
