package com.concertbooking.booking;

import java.time.Instant;

/** A reservation's status. EXPIRED is also what a HELD row past its held_until is shown as, before the sweeper marks it. */
enum ReservationStatus {
    HELD, PAID, CANCELLED, EXPIRED;

    /** SQL: a reservation that is still a live hold at {@code :now} (the reservation-side twin of the seat's free rule). */
    static final String LIVE_HOLD = "status = 'HELD' AND held_until > :now";
    /** SQL: a hold that ran out at or before {@code :now} and that nobody has marked yet. */
    static final String LAPSED_HOLD = "status = 'HELD' AND held_until <= :now";

    /** The status as shown at {@code now}: a stored HELD past its held_until is EXPIRED (exact expiry, no sweeper needed). */
    static ReservationStatus shown(String stored, Instant heldUntil, Instant now) {
        ReservationStatus status = valueOf(stored);
        return status == HELD && !heldUntil.isAfter(now) ? EXPIRED : status;
    }
}
