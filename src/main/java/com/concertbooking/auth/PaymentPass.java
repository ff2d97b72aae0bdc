package com.concertbooking.auth;

/**
 * What the payment route accepts (SPEC 4.4): an {@link ActivePass}, or a {@link ReplayPass} when a genuine token of
 * the caller has ended (by that very payment, or by expiry) and the request carries an {@value #IDEMPOTENCY_KEY}:
 * such a pass can only replay a stored response, never pay.
 */
public sealed interface PaymentPass extends QueuePass permits ActivePass, ReplayPass {

    String IDEMPOTENCY_KEY = "Idempotency-Key";
}
