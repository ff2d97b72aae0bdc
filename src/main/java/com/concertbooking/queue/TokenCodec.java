package com.concertbooking.queue;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Duration;
import java.util.Date;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Queue tokens: HS256 JWTs naming user ({@code sub}), concert ({@code cid}) and queue entry ({@code jti}).
 * The claims carry no issue time, so the same entry always yields the same token (re-asking is idempotent);
 * a token lives exactly as long as its entry in Redis, which the guard checks on every use.
 */
@Component
class TokenCodec {

    private static final Logger log = LoggerFactory.getLogger(TokenCodec.class);
    private static final JWSHeader HEADER = new JWSHeader.Builder(JWSAlgorithm.HS256).type(JOSEObjectType.JWT).build();

    public record Claims(long userId, long concertId, String entryId) {}

    private final MACSigner signer;
    private final MACVerifier verifier;
    private final byte[] secret;
    /** Tokens whose signature and shape were checked, by their text (a few hundred bytes each). */
    private final Cache<String, Claims> verified = Caffeine.newBuilder().maximumSize(VERIFIED_TOKENS)
            .expireAfterAccess(Duration.ofMinutes(10)).build();
    static final int VERIFIED_TOKENS = 50_000;

    /** The secret is checked when {@link TokenProperties} are bound; a blank one (allowed in dev only) means a random one. */
    public TokenCodec(TokenProperties properties) {
        byte[] secret = properties.secret() == null || properties.secret().isBlank() ? randomSecret()
                : properties.secret().getBytes(StandardCharsets.UTF_8);
        this.secret = secret;
        try {
            this.signer = new MACSigner(secret);
            this.verifier = new MACVerifier(secret);
        } catch (JOSEException e) {
            throw new IllegalStateException("booking.token.secret is unusable", e);
        }
    }

    private static byte[] randomSecret() {
        log.warn("booking.token.secret is empty: using a random secret for this run; tokens die on restart and "
                + "are not accepted by other instances (set it in production)");
        byte[] random = new byte[TokenProperties.MIN_SECRET_BYTES];
        new SecureRandom().nextBytes(random);
        return random;
    }

    /** A key for another purpose (queue IDs), derived from the token secret: HMAC-SHA256(secret, purpose). */
    byte[] derivedKey(String purpose) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new javax.crypto.spec.SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(purpose.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public String sign(long userId, long concertId, String entryId) {
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .subject(Long.toString(userId))
                .claim("cid", concertId)
                .jwtID(entryId)
                .build();
        SignedJWT jwt = new SignedJWT(HEADER, claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("token signing failed", e);
        }
        return jwt.serialize();
    }

    /**
     * Signature and shape only; whether the entry is still live is the queue's question (asked of Redis on every
     * use, so an ended token stays refused). A token verified once is remembered by its exact text: its claims never
     * change and it carries no expiry, so a fan's every hold, payment and poll does not parse and HMAC it again.
     * Refused tokens are never remembered.
     */
    public Claims verify(String token) {
        Claims known = verified.getIfPresent(token);
        if (known != null) {
            return known;
        }
        try {
            SignedJWT jwt = SignedJWT.parse(token);
            if (!JWSAlgorithm.HS256.equals(jwt.getHeader().getAlgorithm()) || !jwt.verify(verifier)) {
                throw invalid();
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            Date exp = claims.getExpirationTime();
            if (exp != null && exp.getTime() <= System.currentTimeMillis()) {
                throw new ApiException(ErrorCode.TOKEN_EXPIRED, "The queue token has expired");
            }
            long userId = Long.parseLong(claims.getSubject());
            Object cid = claims.getClaim("cid");
            String entryId = claims.getJWTID();
            if (userId <= 0 || !(cid instanceof Number concert) || concert.longValue() <= 0 || entryId == null || entryId.isBlank()) {
                throw invalid();
            }
            Claims result = new Claims(userId, concert.longValue(), entryId);
            if (exp == null) {
                verified.put(token, result); // this service signs no expiry: such a token lives as long as its entry
            }
            return result;
        } catch (ParseException | JOSEException | NumberFormatException | IllegalStateException e) {
            throw invalid();
        }
    }

    private static ApiException invalid() {
        return new ApiException(ErrorCode.TOKEN_INVALID, "The queue token is malformed or not signed by this service");
    }
}
