package com.concertbooking.booking;

import java.time.Instant;
import java.util.List;

/**
 * Seats of one date changed, announced by the seat owner ({@link SeatInventory}) after the transaction that changed
 * them committed (a rolled-back change announces nothing). Listeners (the catalog's seat maps and availability)
 * take it with {@code @TransactionalEventListener}; it is an in-process event, not a Kafka one.
 *
 * @param concertDateId the date
 * @param changes       each seat's new state, in no particular order
 */
public record SeatsChanged(long concertDateId, List<Change> changes) {

    public SeatsChanged {
        changes = List.copyOf(changes);
    }

    /** What a seat is after the change. A HELD seat is free again from {@code heldUntil} on, without a further write. */
    public enum State { FREE, HELD, SOLD }

    /**
     * One seat's new state.
     *
     * @param reservationId the reservation that held, bought or gave back the seat
     * @param heldUntil     the end of the hold (HELD only, else null)
     */
    public record Change(int seatNumber, State state, long reservationId, Instant heldUntil) {

        /**
         * Orders the changes of one seat without reading the seat row back: a seat goes HELD (r), then SOLD (r) or
         * FREE (after r), then HELD (r') with r' > r (reservation ids grow, and r' is inserted after r's transaction
         * ended, the seat's row lock orders them). Of two announcements of one seat, the higher order is the later
         * state, whichever arrives first; an expiry seen by a reader (FREE after r) and the sweeper's release of the
         * same hold have the same order.
         */
        public long order() {
            return reservationId * 4 + switch (state) {
                case HELD -> 1;
                case SOLD -> 2;
                case FREE -> 3;
            };
        }
    }
}
