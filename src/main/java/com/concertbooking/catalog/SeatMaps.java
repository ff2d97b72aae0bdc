package com.concertbooking.catalog;

import org.springframework.stereotype.Component;

/**
 * Where the seat owner announces that a date's seats changed (issue 10): the seat map and free-seat counts
 * of that date must reflect the change within SPEC section 8's staleness bound. Today seat maps are read
 * straight from the database, so there is nothing to refresh yet; the per-date cache lands behind this
 * method, and every writer of {@code seat} already calls it after its commit.
 */
@Component
public class SeatMaps {

    /** Called after a commit that changed seats of this date (hold, payment, cancel, expiry, admin). */
    public void changed(long concertDateId) {
        // No cache yet: reads go to the database.
    }
}
