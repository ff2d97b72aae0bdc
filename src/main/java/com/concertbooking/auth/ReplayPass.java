package com.concertbooking.auth;

/** A genuine queue token of the caller that has ended: good only to replay a stored payment (see {@link PaymentPass}). */
public record ReplayPass(long userId, long concertId) implements PaymentPass {}
