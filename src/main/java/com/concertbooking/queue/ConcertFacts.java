package com.concertbooking.queue;

import java.time.Instant;

import reactor.core.publisher.Mono;

/**
 * What the queue asks the catalog (implemented by {@code catalog.CatalogStore}). An interface here rather than a
 * call into the catalog, because the catalog listens to the seat owner's events and the seat owner ends queue
 * passes: queue -> catalog would close the cycle catalog -> booking -> queue.
 */
public interface ConcertFacts {

    Mono<Boolean> concertExists(long concertId);

    /** Whether a concert has anything left to buy (SPEC 14 sold out): a seat free or held on a date that has not started. */
    Mono<Boolean> anySeatLeft(long concertId, Instant now);
}
