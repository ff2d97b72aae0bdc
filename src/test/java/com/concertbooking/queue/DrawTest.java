package com.concertbooking.queue;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.LongStream;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The draw's functions against values computed independently (Python's hmac and hashlib, as bin/verify-draw uses). */
class DrawTest {

    private static final String SEED = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    @Test
    void commitmentAndDigestsMatchAnIndependentImplementation() {
        assertThat(Draw.commitment(SEED)).isEqualTo("630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd");
        assertThat(Draw.digest(SEED, 1)).isEqualTo("7761b1cc25227dfca0bd6d972acc52abb62f24ce50ad5a7a430b05c5a6f5497b");
        assertThat(Draw.digest(SEED, 42)).isEqualTo("7df989924b2ebf8832c80802d1213a8a21a062a23877f0718effe501daee1703");
        assertThat(Draw.digest(SEED, 1234567890123L)).isEqualTo("3670055113d270171b58c8dd17c2ac4137a00ca6c5ceba410b60dae96a8d6e37");
        assertThat(Draw.order(SEED, List.of(1L, 42L, 1234567890123L))).containsExactly(1234567890123L, 1L, 42L);
    }

    /** Lowercase fixed-length hex in string (byte) order is the digest's unsigned big-endian order: what Redis keeps. */
    @Test
    void stringOrderOfTheHexDigestIsItsNumericOrder() {
        String seed = Draw.newSeed();
        List<Long> users = LongStream.rangeClosed(1, 5000).boxed().toList();
        List<Long> byNumber = new ArrayList<>(users);
        byNumber.sort(Comparator.comparing(u -> new BigInteger(1, HexFormat.of().parseHex(Draw.digest(seed, u)))));
        assertThat(Draw.order(seed, users)).isEqualTo(byNumber);
    }

    @Test
    void seedsAreFreshLowercaseHexOf32Bytes() {
        String a = Draw.newSeed();
        String b = Draw.newSeed();
        assertThat(a).hasSize(64).isNotEqualTo(b);
        assertThat(Draw.isSeed(a)).isTrue();
        assertThat(Draw.isSeed(a.toUpperCase())).isFalse();
        assertThat(Draw.commitment(a)).hasSize(64).isNotEqualTo(a);
    }
}
