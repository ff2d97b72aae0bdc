package com.concertbooking.queue;

import java.nio.ByteBuffer;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.springframework.stereotype.Component;

/**
 * Queue IDs (SPEC 3): the short code a fan reads out to support, 10 characters of Crockford base32 (50 bits).
 * A queue ID is the fan's user id put through a keyed permutation of the 50-bit numbers (a six-round Feistel
 * network whose round function is HMAC-SHA256 under a key derived from the queue-token secret, tweaked with the
 * concert), so it needs no storage: support turns it back into the user id and looks the entry up. It stays the same
 * for one fan and concert (also after re-joining), differs between concerts, and says nothing readable about the
 * user id. User ids from 2^50 (10^15) on have no queue ID (the field is then left out).
 */
@Component
class QueueIds {

    static final int LENGTH = 10;
    private static final int HALF_BITS = 25;
    private static final long HALF_MASK = (1L << HALF_BITS) - 1;
    static final long LIMIT = 1L << (2 * HALF_BITS);
    private static final int ROUNDS = 6;
    private static final char[] ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();

    private final byte[] key;
    private final ThreadLocal<Mac> macs;

    @org.springframework.beans.factory.annotation.Autowired
    QueueIds(TokenCodec tokens) {
        this(tokens.derivedKey("queue-id"));
    }

    QueueIds(byte[] key) {
        this.key = key.clone();
        this.macs = ThreadLocal.withInitial(() -> {
            try {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(new SecretKeySpec(this.key, "HmacSHA256"));
                return mac;
            } catch (NoSuchAlgorithmException | InvalidKeyException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** The queue ID of a user in a concert's queue, or null for a user id of 2^50 or more. */
    String of(long concertId, long userId) {
        if (userId < 0 || userId >= LIMIT) {
            return null;
        }
        long left = userId >>> HALF_BITS;
        long right = userId & HALF_MASK;
        for (int round = 0; round < ROUNDS; round++) {
            long next = left ^ f(concertId, round, right);
            left = right;
            right = next;
        }
        return encode((left << HALF_BITS) | right);
    }

    /** The user id behind a queue ID of this concert; -1 when the text is not a queue ID. */
    long userOf(long concertId, String queueId) {
        long value = decode(queueId);
        if (value < 0) {
            return -1;
        }
        long left = value >>> HALF_BITS;
        long right = value & HALF_MASK;
        for (int round = ROUNDS - 1; round >= 0; round--) {
            long previous = right ^ f(concertId, round, left);
            right = left;
            left = previous;
        }
        return (left << HALF_BITS) | right;
    }

    private long f(long concertId, int round, long half) {
        Mac mac = macs.get();
        byte[] out = mac.doFinal(ByteBuffer.allocate(17).putLong(concertId).put((byte) round).putLong(half).array());
        return ByteBuffer.wrap(out).getInt() & HALF_MASK;
    }

    static String encode(long value) {
        char[] out = new char[LENGTH];
        for (int i = LENGTH - 1; i >= 0; i--) {
            out[i] = ALPHABET[(int) (value & 31)];
            value >>>= 5;
        }
        return new String(out);
    }

    /**
     * Crockford decoding, as a person reads a code out: case does not matter, I and L read as 1, O as 0. Anything
     * else (another length, U, punctuation, spaces) is not a queue ID: -1.
     */
    static long decode(String text) {
        if (text == null || text.length() != LENGTH) {
            return -1;
        }
        long value = 0;
        for (int i = 0; i < LENGTH; i++) {
            int digit = digit(text.charAt(i));
            if (digit < 0) {
                return -1;
            }
            value = (value << 5) | digit;
        }
        return value;
    }

    private static int digit(char c) {
        char u = (c >= 'a' && c <= 'z') ? (char) (c - 32) : c;
        if (u == 'I' || u == 'L') {
            return 1;
        }
        if (u == 'O') {
            return 0;
        }
        for (int d = 0; d < ALPHABET.length; d++) {
            if (ALPHABET[d] == u) {
                return d;
            }
        }
        return -1;
    }
}
