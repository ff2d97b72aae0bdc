package com.concertbooking.auth;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * SPEC 3 Configuration: in the {@code prod} profile the admin key and the queue-token secret are required, 32+ bytes,
 * and a missing, blank or unresolved ({@code ${...}}) value stops the start. Issue 16 started prod without
 * BOOKING_ADMIN_API_KEY and the admin key was the literal text {@code ${BOOKING_ADMIN_API_KEY}}; a one-character key
 * was accepted. The real application.yml and its prod profile, bound into the service's own settings classes.
 */
class ProductionSecretsTest {

    static final String KEY = "an-admin-key-of-more-than-32-bytes-0123";
    static final String SECRET = "a-queue-token-secret-of-32-bytes-or-more";

    @Configuration(proxyBeanMethods = false)
    @ConfigurationPropertiesScan("com.concertbooking")
    static class Settings {}

    private static ConfigurableApplicationContext start(String... args) {
        List<String> all = new ArrayList<>(List.of("--spring.profiles.active=prod", "--spring.main.banner-mode=off",
                "--logging.level.root=OFF", "--logging.structured.format.console="));
        all.addAll(List.of(args));
        return new SpringApplicationBuilder(Settings.class).web(WebApplicationType.NONE).run(all.toArray(String[]::new));
    }

    @Test
    void theEnvironmentIsAsThisTestAssumes() {
        assertThat(System.getenv("BOOKING_ADMIN_API_KEY")).as("BOOKING_ADMIN_API_KEY in the test's environment").isNull();
        assertThat(System.getenv("BOOKING_TOKEN_SECRET")).as("BOOKING_TOKEN_SECRET in the test's environment").isNull();
    }

    @Test
    void aMissingBlankShortOrUnresolvedAdminKeyStopsTheStart() {
        assertThatThrownBy(() -> start("--booking.token.secret=" + SECRET)).hasStackTraceContaining("BOOKING_ADMIN_API_KEY");
        assertThatThrownBy(() -> start("--booking.token.secret=" + SECRET, "--booking.admin.api-key=   "))
                .hasStackTraceContaining("must be set, not blank");
        assertThatThrownBy(() -> start("--booking.token.secret=" + SECRET, "--booking.admin.api-key=k"))
                .hasStackTraceContaining("at least 32 bytes");
        assertThatThrownBy(() -> start("--booking.token.secret=" + SECRET, "--booking.admin.api-key=${BOOKING_ADMIN_API_KEY}"))
                .hasStackTraceContaining("unresolved placeholder");
        assertThatThrownBy(() -> start("--booking.token.secret=" + SECRET, "--booking.admin.api-key=${SOME_UNSET_VARIABLE_XYZ}"))
                .hasStackTraceContaining("unresolved placeholder");
    }

    @Test
    void aMissingShortOrUnresolvedTokenSecretStopsTheStart() {
        assertThatThrownBy(() -> start("--booking.admin.api-key=" + KEY)).hasStackTraceContaining("BOOKING_TOKEN_SECRET");
        assertThatThrownBy(() -> start("--booking.admin.api-key=" + KEY, "--booking.token.secret=short"))
                .hasStackTraceContaining("at least 32 bytes");
        assertThatThrownBy(() -> start("--booking.admin.api-key=" + KEY, "--booking.token.secret=${BOOKING_TOKEN_SECRET}"))
                .hasStackTraceContaining("unresolved placeholder");
    }

    @Test
    void strongSettingsStart() {
        try (var context = start("--booking.admin.api-key=" + KEY, "--booking.token.secret=" + SECRET)) {
            assertThat(context.getBean(AdminProperties.class).apiKey()).isEqualTo(KEY);
            assertThat(context.getBean(AdminProperties.class).requireStrongKey()).isTrue();
        }
        // Outside prod the development key is fine.
        try (var context = new SpringApplicationBuilder(Settings.class).web(WebApplicationType.NONE)
                .run("--spring.main.banner-mode=off", "--logging.level.root=OFF", "--logging.structured.format.console=")) {
            assertThat(context.getBean(AdminProperties.class).apiKey()).isEqualTo("dev-admin-key");
        }
    }
}
