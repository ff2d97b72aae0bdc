package com.concertbooking.queue;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The fair draw of a scheduled sale (SPEC 14), as pure functions: a 32-byte secret seed, its SHA-256 commitment,
 * and each fan's place key {@code HMAC-SHA256(seed, userId in ASCII decimal)}. The cohort's order is ascending by
 * that digest read as an unsigned big-endian number, which for fixed-length lowercase hex is plain string order:
 * Redis keeps equal-score sorted-set members in byte order, so the cohort set orders itself (see cohort in
 * {@link QueueStore}). {@code bin/verify-draw} recomputes the same from the revealed seed.
 */
final class Draw {

    static final int SEED_BYTES = 32;
    static final int DIGEST_HEX = 64;
    private static final HexFormat HEX = HexFormat.of(); // lowercase
    private static final SecureRandom RANDOM = new SecureRandom();

    private Draw() {}

    /** A new secret seed, lowercase hex. */
    static String newSeed() {
        byte[] seed = new byte[SEED_BYTES];
        RANDOM.nextBytes(seed);
        return HEX.formatHex(seed);
    }

    /** SHA-256 of the seed's bytes, lowercase hex: what is published before the opening. */
    static String commitment(String seedHex) {
        try {
            return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(HEX.parseHex(seedHex)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The fan's place key: HMAC-SHA256 keyed with the seed's bytes over the user id in ASCII decimal, lowercase hex. */
    static String digest(String seedHex, long userId) {
        return HEX.formatHex(mac(seedHex).doFinal(Long.toString(userId).getBytes(StandardCharsets.US_ASCII)));
    }

    /** A MAC keyed with the seed, for many digests of one draw. Not thread-safe: one per use. */
    static Mac mac(String seedHex) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(HEX.parseHex(seedHex), "HmacSHA256"));
            return mac;
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The cohort's order: user ids ascending by digest (the reference the tests and the verifier agree with). */
    static List<Long> order(String seedHex, List<Long> userIds) {
        record Keyed(long user, String key) {}
        return userIds.stream()
                .map(u -> new Keyed(u, digest(seedHex, u)))
                .sorted(Comparator.comparing(Keyed::key))
                .map(Keyed::user)
                .toList();
    }

    static boolean isSeed(String s) {
        return s != null && s.length() == 2 * SEED_BYTES && s.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
}
