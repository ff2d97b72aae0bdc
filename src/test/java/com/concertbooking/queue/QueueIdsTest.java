package com.concertbooking.queue;

import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class QueueIdsTest {

    private final QueueIds ids = new QueueIds("a key of thirty-two bytes or so..".getBytes());

    @Test
    void aQueueIdIsTenCrockfordCharactersAndTurnsBackIntoItsUser() {
        for (long user : new long[] {1, 2, 42, 999_999, 1L << 40, QueueIds.LIMIT - 1}) {
            String id = ids.of(7, user);
            assertThat(id).hasSize(10).matches("[0-9ABCDEFGHJKMNPQRSTVWXYZ]{10}");
            assertThat(ids.userOf(7, id)).isEqualTo(user);
        }
    }

    @Test
    void itIsAPermutationPerConcertAndDiffersBetweenConcerts() {
        Set<String> seen = new HashSet<>();
        int sameAcrossConcerts = 0;
        for (long user = 1; user <= 20_000; user++) {
            assertThat(seen.add(ids.of(7, user))).isTrue();
            if (ids.of(7, user).equals(ids.of(8, user))) {
                sameAcrossConcerts++;
            }
        }
        assertThat(sameAcrossConcerts).isZero();
        // Consecutive users do not get look-alike codes.
        assertThat(ids.of(7, 1).substring(0, 5)).isNotEqualTo(ids.of(7, 2).substring(0, 5));
        // Another key, other codes.
        assertThat(new QueueIds("another key, another permutation!".getBytes()).of(7, 1)).isNotEqualTo(ids.of(7, 1));
    }

    @Test
    void readOutCodesDecodeAsCrockfordSaysAndAnythingElseIsNoQueueId() {
        String id = ids.of(3, 123_456);
        assertThat(ids.userOf(3, id.toLowerCase())).isEqualTo(123_456);
        String withLookAlikes = id.replace('1', 'l').replace('0', 'O');
        assertThat(ids.userOf(3, withLookAlikes)).isEqualTo(123_456);
        assertThat(ids.userOf(3, id.substring(1))).isEqualTo(-1);
        assertThat(ids.userOf(3, id + "0")).isEqualTo(-1);
        assertThat(ids.userOf(3, "ABCDEFGHJU")).isEqualTo(-1); // U is not a Crockford digit
        assertThat(ids.userOf(3, "ABCD-EFGHJ")).isEqualTo(-1);
        assertThat(ids.userOf(3, "ABCDEFGHJ\u0661")).isEqualTo(-1);
        assertThat(ids.userOf(3, null)).isEqualTo(-1);
    }

    @Test
    void userIdsBeyondFiftyBitsHaveNone() {
        assertThat(ids.of(1, QueueIds.LIMIT)).isNull();
        assertThat(ids.of(1, Long.MAX_VALUE)).isNull();
    }
}
