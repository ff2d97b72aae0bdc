package com.concertbooking.auth;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.RSAPublicKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.security.converter.RsaKeyConverters;
import org.springframework.security.oauth2.jose.jws.SignatureAlgorithm;
import org.springframework.security.oauth2.jwt.JwsHeader;
import org.springframework.security.oauth2.jwt.JwtClaimsSet;
import org.springframework.security.oauth2.jwt.JwtEncoder;
import org.springframework.security.oauth2.jwt.JwtEncoderParameters;
import org.springframework.security.oauth2.jwt.NimbusJwtEncoder;
import org.springframework.security.oauth2.jwt.NimbusReactiveJwtDecoder;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * The development identity provider's keys (SPEC 11): RS256 access tokens signed with an RSA key that is either
 * given as a PKCS#8 PEM ({@code booking.auth.dev-issuer.private-key}, shared by all instances) or generated at
 * start. Its public half is served as a JWK set, so other services verify its tokens like any provider's.
 * RS256 because verification, which every request pays, is several times cheaper than ES256's.
 * Signing is CPU work of about a millisecond: it runs on {@link Passwords#CRYPTO}, never on an event loop.
 */
@Component
class DevIssuer {

    private static final Logger log = LoggerFactory.getLogger(DevIssuer.class);
    private static final int KEY_BITS = 2048;

    /**
     * The body of a login, refresh or mint answer (SPEC 11): refreshToken and refreshExpiresIn only from login and
     * refresh (an operator's minted token is not renewable).
     */
    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
    public record AccessToken(String accessToken, String tokenType, long expiresIn, String refreshToken, Long refreshExpiresIn) {

        AccessToken(String accessToken, String tokenType, long expiresIn) {
            this(accessToken, tokenType, expiresIn, null, null);
        }

        AccessToken withRefresh(String token, java.time.Duration lifetime) {
            return new AccessToken(accessToken, tokenType, expiresIn, token, lifetime.toSeconds());
        }
    }

    private final boolean enabled;
    private final String issuer;
    private final String audience;
    private final Duration lifetime;
    private final Clock clock;
    private final RSAKey key;
    private final JwtEncoder encoder;

    public DevIssuer(AuthProperties properties, Clock clock) {
        AuthProperties.DevIssuer settings = properties.devIssuer();
        this.enabled = settings != null && settings.enabled();
        this.issuer = enabled ? settings.issuer() : null;
        this.audience = properties.audience();
        this.lifetime = enabled ? settings.tokenLifetime() : Duration.ZERO;
        this.clock = clock;
        if (!enabled) {
            this.key = null;
            this.encoder = null;
            return;
        }
        RSAPrivateCrtKey privateKey = AuthProperties.hasText(settings.privateKey()) ? parse(settings.privateKey()) : generate();
        RSAPublicKey publicKey = publicOf(privateKey);
        try {
            RSAKey withoutId = new RSAKey.Builder(publicKey).build();
            // The key id is the key's thumbprint: instances sharing a PEM announce the same kid.
            this.key = new RSAKey.Builder(publicKey).privateKey((RSAPrivateKey) privateKey).keyUse(KeyUse.SIGNATURE)
                    .algorithm(JWSAlgorithm.RS256).keyID(withoutId.computeThumbprint().toString()).build();
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot compute the dev issuer's key id", e);
        }
        this.encoder = NimbusJwtEncoder.withKeyPair(publicKey, privateKey).algorithm(SignatureAlgorithm.RS256)
                .jwkPostProcessor(b -> b.keyID(key.getKeyID())).build();
    }

    public boolean enabled() {
        return enabled;
    }

    public String issuer() {
        return issuer;
    }

    /** A decoder that trusts only this issuer's key (validators are the caller's). */
    ReactiveJwtDecoder decoder() {
        try {
            return NimbusReactiveJwtDecoder.withPublicKey(key.toRSAPublicKey()).signatureAlgorithm(SignatureAlgorithm.RS256).build();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The public JWK set ({@code GET /.well-known/jwks.json}). */
    Map<String, Object> publicJwks() {
        return new JWKSet(key.toPublicJWK()).toJSONObject(true);
    }

    /** An access token for this user, signed off the event loop. */
    public Mono<AccessToken> mint(long userId, String username) {
        return Mono.fromCallable(() -> mintNow(userId, username)).subscribeOn(Passwords.CRYPTO);
    }

    /** Signs on the calling thread: for tests and bulk tools, never for an event loop. */
    public AccessToken mintNow(long userId, String username) {
        if (!enabled) {
            throw new IllegalStateException("the development issuer is disabled");
        }
        Instant now = clock.instant();
        JwtClaimsSet.Builder claims = JwtClaimsSet.builder()
                .issuer(issuer)
                .subject(Long.toString(userId))
                .audience(List.of(audience))
                .issuedAt(now)
                .notBefore(now)
                .expiresAt(now.plus(lifetime))
                .id(UUID.randomUUID().toString());
        if (username != null) {
            claims.claim("preferred_username", username);
        }
        JwsHeader header = JwsHeader.with(SignatureAlgorithm.RS256).keyId(key.getKeyID()).type("JWT").build();
        String token = encoder.encode(JwtEncoderParameters.from(header, claims.build())).getTokenValue();
        return new AccessToken(token, "Bearer", lifetime.toSeconds());
    }

    private static RSAPrivateCrtKey parse(String pem) {
        try {
            RSAPrivateKey key = RsaKeyConverters.pkcs8().convert(new ByteArrayInputStream(pem.strip().getBytes(StandardCharsets.US_ASCII)));
            if (!(key instanceof RSAPrivateCrtKey crt) || crt.getModulus().bitLength() < KEY_BITS) {
                throw new IllegalStateException("booking.auth.dev-issuer.private-key must be an RSA key of at least " + KEY_BITS + " bits");
            }
            return crt;
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("booking.auth.dev-issuer.private-key is not a PKCS#8 PEM RSA private key", e);
        }
    }

    private static RSAPrivateCrtKey generate() {
        log.warn("booking.auth.dev-issuer.private-key is empty: generated a key for this run; its tokens die on restart "
                + "and other instances reject them (set a shared PEM to run several instances)");
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(KEY_BITS);
            return (RSAPrivateCrtKey) generator.generateKeyPair().getPrivate();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static RSAPublicKey publicOf(RSAPrivateCrtKey key) {
        try {
            return (RSAPublicKey) KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(key.getModulus(), key.getPublicExponent()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
