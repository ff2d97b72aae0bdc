package com.concertbooking.queue;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Plain unit test: no Spring, no Redis. */
class TokenCodecTest {

    private static TokenCodec codec(String secret) {
        return codec(secret, true);
    }

    private static TokenCodec codec(String secret, boolean allowRandom) {
        return new TokenCodec(new TokenProperties(secret, allowRandom));
    }

    @Test
    void secretsShorterThan32BytesAreRefused() {
        assertThatThrownBy(() -> codec("too-short-secret")).isInstanceOf(IllegalStateException.class).hasMessageContaining("32 bytes");
        assertThat(codec("x".repeat(32))).isNotNull();
    }

    /** The prod profile: a missing or blank secret stops the start, like a blank admin key. */
    @Test
    void blankSecretIsRefusedWhereRandomSecretsAreNotAllowed() {
        for (String blank : new String[] {"", "   ", "\t"}) {
            assertThatThrownBy(() -> codec(blank, false)).isInstanceOf(IllegalStateException.class).hasMessageContaining("must be set");
        }
        assertThat(codec("y".repeat(32), false)).isNotNull();
        // application.yml's ${BOOKING_TOKEN_SECRET:} is blank when the variable is missing; a value left unresolved is refused too.
        assertThatThrownBy(() -> codec("${BOOKING_TOKEN_SECRET}", true)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("unresolved");
    }

    @Test
    void emptySecretMeansARandomOnePerStart() {
        String token = codec("").sign(1, 2, "e");
        assertThatThrownBy(() -> codec("").verify(token)).isInstanceOf(ApiException.class)
                .extracting(e -> ((ApiException) e).code()).isEqualTo(ErrorCode.TOKEN_INVALID);
    }

    @Test
    void sameEntrySameTokenAndClaimsRoundTrip() {
        TokenCodec codec = codec("0123456789abcdef0123456789abcdef");
        String token = codec.sign(7, 3, "entry-1");
        assertThat(codec.sign(7, 3, "entry-1")).isEqualTo(token);
        assertThat(codec.sign(7, 3, "entry-2")).isNotEqualTo(token);
        assertThat(codec.verify(token)).isEqualTo(new TokenCodec.Claims(7, 3, "entry-1"));
        // Another service's key, a flipped signature character, or no token at all: invalid.
        assertThatThrownBy(() -> codec("fedcba9876543210fedcba9876543210").verify(token)).isInstanceOf(ApiException.class);
        char last = token.charAt(token.length() - 2);
        String flipped = token.substring(0, token.length() - 2) + (last == 'A' ? 'B' : 'A') + token.charAt(token.length() - 1);
        assertThatThrownBy(() -> codec.verify(flipped)).isInstanceOf(ApiException.class);
        assertThatThrownBy(() -> codec.verify("")).isInstanceOf(ApiException.class);
    }
}
