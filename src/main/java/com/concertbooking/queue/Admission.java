package com.concertbooking.queue;

/**
 * Whether a queue's front is moving (SPEC 3 {@code admission}): RUNNING, PAUSED by the operator (admit-per-tick 0)
 * or because nothing is left to buy, or CAP_FULL (as many passes active as the cap allows: waiting for seats to
 * free up). A wait estimate is only given while RUNNING.
 */
enum Admission {
    RUNNING, PAUSED, CAP_FULL;

    static Admission of(int admitPerTick, int maxActive, long active, boolean soldOut) {
        if (admitPerTick <= 0 || soldOut) {
            return PAUSED;
        }
        return active >= maxActive ? CAP_FULL : RUNNING;
    }
}
