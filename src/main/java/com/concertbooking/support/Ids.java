package com.concertbooking.support;

import java.util.OptionalLong;

/**
 * The one way an id or a count is read from text (SPEC 3): canonical decimal, ASCII digits only, no sign, no
 * spaces, no leading zeros, no hex or {@code #}, no fraction or exponent. Spring's default conversion
 * ({@code NumberUtils}) trims, accepts {@code +}, {@code 0x}, {@code #} and any Unicode digit; this does not, so a
 * text that is not exactly one number is never read as some number.
 */
public final class Ids {

    private static final int MAX_DIGITS = 19; // Long.MAX_VALUE has 19 digits

    private Ids() {}

    /** A positive id ({@code [1-9][0-9]{0,18}}, at most {@link Long#MAX_VALUE}), or empty for any other text. */
    public static OptionalLong parse(String text) {
        long value = whole(text);
        return value > 0 ? OptionalLong.of(value) : OptionalLong.empty();
    }

    /** A non-negative whole number written canonically ({@code 0} or {@code [1-9][0-9]*}) up to {@code max}, else -1. */
    public static long whole(String text, long max) {
        long value = whole(text);
        return value <= max ? value : -1;
    }

    private static long whole(String text) {
        if (text == null || text.isEmpty() || text.length() > MAX_DIGITS || (text.charAt(0) == '0' && text.length() > 1)) {
            return -1;
        }
        long value = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
            if (value < 0) {
                return -1; // past Long.MAX_VALUE
            }
        }
        return value;
    }
}
