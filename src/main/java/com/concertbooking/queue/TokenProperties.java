package com.concertbooking.queue;

import java.nio.charset.StandardCharsets;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code booking.token.*}: the queue tokens' HMAC secret, checked when the settings are bound so that a bad one stops
 * the start: never an unresolved {@code ${...}}, at least {@value #MIN_SECRET_BYTES} bytes when set, and required
 * (not blank) unless {@code allowRandomSecret} (dev: a random secret per start; false in the prod profile).
 */
@ConfigurationProperties("booking.token")
record TokenProperties(String secret, boolean allowRandomSecret) {

    static final int MIN_SECRET_BYTES = 32;

    TokenProperties {
        if (secret != null && secret.contains("${")) {
            throw new IllegalStateException("booking.token.secret is an unresolved placeholder: set BOOKING_TOKEN_SECRET");
        }
        boolean blank = secret == null || secret.isBlank();
        if (blank && !allowRandomSecret) {
            throw new IllegalStateException("booking.token.secret (BOOKING_TOKEN_SECRET) must be set (at least "
                    + MIN_SECRET_BYTES + " bytes, not blank)");
        }
        if (!blank && secret.getBytes(StandardCharsets.UTF_8).length < MIN_SECRET_BYTES) {
            throw new IllegalStateException("booking.token.secret must be at least " + MIN_SECRET_BYTES + " bytes (HS256)");
        }
    }
}
