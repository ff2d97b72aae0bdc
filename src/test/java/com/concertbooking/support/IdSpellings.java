package com.concertbooking.support;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The non-canonical spellings of an id that Spring's lenient number conversion reads as that id (SPEC 3 says each is
 * 400 VALIDATION_FAILED): for paths and queries already percent-encoded as a client sends them, and for JSON bodies.
 */
public final class IdSpellings {

    private IdSpellings() {}

    /** Path segment or query value spellings of {@code id}, ready to put in a URL. */
    public static List<String> inUrl(long id) {
        String digits = Long.toString(id);
        List<String> spellings = new ArrayList<>(List.of(
                "+" + digits,                                // a sign (in a query, '+' also decodes to a space)
                "%2B" + digits,                              // an encoded sign
                "%20" + digits,                              // a leading space
                digits + "%20",                              // a trailing space
                "%09" + digits,                              // a tab
                "0" + digits,                                // a leading zero
                String.format("%020d", id),                  // zero-padded to 20 digits
                "0x" + Long.toHexString(id),                 // hex
                "0X" + Long.toHexString(id).toUpperCase(),
                "%23" + Long.toHexString(id),                // '#' hex
                digits + ".0",                               // a fraction
                digits + "e0",                               // an exponent
                encode(shift(digits, '\uFF10')),             // fullwidth digits
                encode(shift(digits, '\u0660')),             // Arabic-Indic digits
                encode(shift(digits, '\u0966'))));           // Devanagari digits
        return spellings;
    }

    /** JSON value spellings of {@code id} that are not a plain JSON number: each must be 400, never read as the id. */
    public static List<String> inJson(long id) {
        String digits = Long.toString(id);
        return List.of("\"" + digits + "\"", "\" " + digits + "\"", "+" + digits, "0" + digits, digits + ".0", digits + "e0",
                digits + "0e-1", "0x" + Long.toHexString(id), "[" + digits + "]", "{\"id\":" + digits + "}",
                shift(digits, '\uFF10'), "true", "1" + "0".repeat(19));
    }

    private static String shift(String asciiDigits, char zero) {
        StringBuilder out = new StringBuilder();
        asciiDigits.chars().forEach(c -> out.append((char) (zero + (c - '0'))));
        return out.toString();
    }

    private static String encode(String s) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            out.append('%').append(String.format("%02X", b & 0xff));
        }
        return out.toString();
    }
}
