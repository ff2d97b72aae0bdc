package com.concertbooking.catalog;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * Settings of the in-memory seat maps and free-seat counts ({@code booking.seat-maps.*}, see docs/seat-maps.md).
 *
 * @param maxStale        SPEC section 8's bound: a snapshot whose load started longer ago than this is never served;
 *                        readers wait for the (one, shared) reload instead
 * @param refreshAfter    a snapshot older than this is reloaded in the background on the next read, changes announced
 *                        or not (a lost pub/sub message, a hold that simply ran out)
 * @param minReload       an announced change reloads a snapshot at most this often (a flood of holds on one date
 *                        makes back-to-back loads otherwise)
 * @param publishInterval changes are sent to the other instances in one message per this interval
 * @param maxBytes        memory bound of all cached seat-map JSON (both variants of every date; LRU-like eviction)
 * @param loadTimeout     a load that takes longer fails (its waiting readers get the error, the next read retries)
 */
@ConfigurationProperties("booking.seat-maps")
record SeatMapProperties(@DefaultValue("1s") Duration maxStale,
                                @DefaultValue("500ms") Duration refreshAfter,
                                @DefaultValue("100ms") Duration minReload,
                                @DefaultValue("100ms") Duration publishInterval,
                                @DefaultValue("128MB") DataSize maxBytes,
                                @DefaultValue("10s") Duration loadTimeout) {

    public SeatMapProperties {
        if (minReload.compareTo(refreshAfter) > 0 || refreshAfter.compareTo(maxStale) > 0 || minReload.isNegative()) {
            throw new IllegalArgumentException("booking.seat-maps: need 0 <= min-reload <= refresh-after <= max-stale");
        }
        if (maxBytes.toBytes() <= 0 || publishInterval.isNegative() || publishInterval.isZero()) {
            throw new IllegalArgumentException("booking.seat-maps: max-bytes and publish-interval must be positive");
        }
    }

    /** The defaults (tests and tools that build the catalog by hand). */
    static SeatMapProperties defaults() {
        return new SeatMapProperties(Duration.ofSeconds(1), Duration.ofMillis(500), Duration.ofMillis(100),
                Duration.ofMillis(100), DataSize.ofMegabytes(128), Duration.ofSeconds(10));
    }
}
