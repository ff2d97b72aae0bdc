package com.concertbooking.booking;

/** A seat row's status column. A HELD seat whose held_until has passed is free (see {@link SeatInventory}). */
enum SeatStatus { AVAILABLE, HELD, SOLD }
