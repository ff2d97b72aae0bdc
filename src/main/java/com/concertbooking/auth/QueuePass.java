package com.concertbooking.auth;

/**
 * A verified queue token of the caller (SPEC 3, column Queue): the admission pass a handler names in its signature,
 * resolved by the queue from the {@value #HEADER} header and refused (401/403) before the handler runs unless it is
 * genuine, of the caller, and in the state the parameter's type says: {@link ActivePass}, {@link PaymentPass}, or
 * the queue's own live pass.
 */
public interface QueuePass {

    /** The header that carries the queue token. */
    String HEADER = "Queue-Token";

    long userId();

    long concertId();
}
