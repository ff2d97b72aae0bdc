package com.concertbooking.booking;

/** A payment row's status. */
enum PaymentStatus { COMPLETED, REFUNDED }
