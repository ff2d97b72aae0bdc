package com.concertbooking.auth;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.RSAPublicKeySpec;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.UUID;

import com.concertbooking.support.IntegrationTest;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.springframework.security.converter.RsaKeyConverters;

/**
 * Access tokens of any shape, signed with the tests' development-issuer key (or deliberately not), for the cases a
 * real identity provider never produces: expired, wrong audience, wrong issuer, alg none, key confusion.
 */
public final class TestTokens {

    public static final RSAPrivateCrtKey KEY = (RSAPrivateCrtKey) RsaKeyConverters.pkcs8()
            .convert(new ByteArrayInputStream(IntegrationTest.DEV_ISSUER_KEY_PEM.getBytes(StandardCharsets.US_ASCII)));

    private TestTokens() {}

    /** The claims the development issuer puts in, for this subject: change what the case needs. */
    public static JWTClaimsSet.Builder claims(String subject) {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder().issuer("booking-dev-issuer").subject(subject).audience("booking-api")
                .issueTime(Date.from(now)).expirationTime(Date.from(now.plusSeconds(3600))).jwtID(UUID.randomUUID().toString());
    }

    public static String sign(JWTClaimsSet claims) {
        return sign(claims, KEY);
    }

    public static String signWithFreshKey(JWTClaimsSet claims) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return sign(claims, (RSAPrivateKey) generator.generateKeyPair().getPrivate());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static String sign(JWTClaimsSet claims, RSAPrivateKey key) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).type(JOSEObjectType.JWT).build(), claims);
            jwt.sign(new RSASSASigner(key));
            return jwt.serialize();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The classic key-confusion attack: HS256 with the issuer's public key as the shared secret. */
    public static String hmacWithPublicKey(JWTClaimsSet claims) {
        try {
            RSAPublicKey publicKey = (RSAPublicKey) KeyFactory.getInstance("RSA")
                    .generatePublic(new RSAPublicKeySpec(KEY.getModulus(), KEY.getPublicExponent()));
            SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
            jwt.sign(new MACSigner(publicKey.getEncoded()));
            return jwt.serialize();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static String unsigned(JWTClaimsSet claims) {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        return b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8)) + ".";
    }
}
