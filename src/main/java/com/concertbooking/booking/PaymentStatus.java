package com.concertbooking.booking;

/** A payment row's status. */
public enum PaymentStatus { COMPLETED, REFUNDED }
