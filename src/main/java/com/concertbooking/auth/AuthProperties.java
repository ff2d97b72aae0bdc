package com.concertbooking.auth;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code booking.auth.*} (SPEC 3 Configuration, 11): where access tokens come from and how logins are throttled.
 *
 * @param issuerUri   an external identity provider's issuer: the expected {@code iss}, and its keys by OIDC discovery
 *                    unless {@code jwkSetUri} is also set
 * @param jwkSetUri   an external identity provider's key set
 * @param audience    the {@code aud} every access token must carry
 * @param clockSkew   leeway on {@code exp} and {@code nbf}
 * @param adminScope  the access-token scope that makes its bearer an operator (the {@code X-Admin-Key} is the other way)
 * @param refreshTtl  how long a development issuer's refresh token stays valid after it was issued (each use issues a new one)
 */
@ConfigurationProperties("booking.auth")
record AuthProperties(String issuerUri, String jwkSetUri, String audience, Duration clockSkew, String adminScope,
                             DevIssuer devIssuer, Login login, Duration refreshTtl) {

    /**
     * The development identity provider: password login and token minting with its own RSA key.
     *
     * @param privateKey a PKCS#8 PEM RSA private key shared by all instances; empty: generated at start
     */
    public record DevIssuer(boolean enabled, String issuer, String privateKey, Duration tokenLifetime) {}

    /**
     * Login throttling, each in a fixed window: attempts per account since its last successful sign-in (however the
     * name is written), and all attempts per client address.
     */
    public record Login(int maxFailuresPerUsername, int maxAttemptsPerAddress, Duration window) {}

    boolean externalIssuer() {
        return hasText(issuerUri) || hasText(jwkSetUri);
    }

    static boolean hasText(String s) {
        return s != null && !s.isBlank();
    }
}
