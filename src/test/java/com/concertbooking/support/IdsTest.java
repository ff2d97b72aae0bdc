package com.concertbooking.support;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one strict reading of ids and counts (SPEC 3): canonical decimal or nothing. */
class IdsTest {

    @Test
    void canonicalDecimalIdsOnly() {
        assertThat(Ids.parse("42")).hasValue(42);
        assertThat(Ids.parse("1")).hasValue(1);
        assertThat(Ids.parse("9223372036854775807")).hasValue(Long.MAX_VALUE);
        for (String bad : new String[] {null, "", "0", "00", "042", "+42", "-42", " 42", "42 ", "\t42", "4 2", "0x2a", "0X2A", "#2a",
                "42.0", "4e1", "42L", "\uFF14\uFF12", "\u0664\u0662", "\u096A\u096B", "9223372036854775808", "99999999999999999999",
                "00000000000000000042", "42\n", "٤٢"}) {
            assertThat(Ids.parse(bad)).as(String.valueOf(bad)).isEmpty();
        }
    }

    @Test
    void countsAllowZeroAndTheirBound() {
        assertThat(Ids.whole("0", 100)).isZero();
        assertThat(Ids.whole("100", 100)).isEqualTo(100);
        assertThat(Ids.whole("101", 100)).isEqualTo(-1);
        assertThat(Ids.whole("007", 100)).isEqualTo(-1);
        assertThat(Ids.whole("-1", 100)).isEqualTo(-1);
    }

    @Test
    void theBinderReadsNumbersTheSameWay() {
        assertThat(StrictNumberBinding.parse("2147483647", Integer.class)).isEqualTo(Integer.MAX_VALUE);
        assertThat(StrictNumberBinding.parse("42", Long.class)).isEqualTo(42L);
        assertThatThrownBy(() -> StrictNumberBinding.parse("2147483648", Integer.class)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> StrictNumberBinding.parse(" 42", Long.class)).isInstanceOf(IllegalArgumentException.class);
    }
}
