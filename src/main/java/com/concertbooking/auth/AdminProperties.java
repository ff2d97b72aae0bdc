package com.concertbooking.auth;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code booking.admin.*}: the operators' {@code X-Admin-Key} (SPEC 3 Configuration, 11). Checked when the settings
 * are bound, so a bad key stops the start: never blank, never an unresolved {@code ${...}} (a missing environment
 * variable in application.yml resolves to blank), and at least {@value #MIN_STRONG_KEY_BYTES} bytes where
 * {@code requireStrongKey} is set (the prod profile).
 *
 * @param maxFailuresPerAddress wrong keys per client address in a {@code failureWindow}; more are 429
 */
@ConfigurationProperties("booking.admin")
record AdminProperties(String apiKey, boolean requireStrongKey, int maxFailuresPerAddress, Duration failureWindow) {

    static final int MIN_STRONG_KEY_BYTES = 32;

    public AdminProperties {
        if (apiKey == null || apiKey.isBlank()) {
            throw new IllegalStateException("booking.admin.api-key (BOOKING_ADMIN_API_KEY) must be set, not blank");
        }
        if (apiKey.contains("${")) {
            throw new IllegalStateException("booking.admin.api-key is an unresolved placeholder: set BOOKING_ADMIN_API_KEY");
        }
        if (requireStrongKey && apiKey.getBytes(StandardCharsets.UTF_8).length < MIN_STRONG_KEY_BYTES) {
            throw new IllegalStateException("booking.admin.api-key must be at least " + MIN_STRONG_KEY_BYTES + " bytes");
        }
    }
}
