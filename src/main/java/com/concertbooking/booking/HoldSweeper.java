package com.concertbooking.booking;

import java.time.Duration;

import jakarta.annotation.PreDestroy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Background bookkeeping for holds that ran out. Correctness never depends on it (an expired hold is
 * already free to every query); it turns them into EXPIRED reservations with their outbox events.
 * Each tick drains full batches back to back, then waits for the next tick. Disabled with
 * {@code booking.reservation.sweeper-enabled=false}.
 */
@Component
class HoldSweeper {

    private static final Logger log = LoggerFactory.getLogger(HoldSweeper.class);
    private static final int MAX_BATCHES_PER_TICK = 20;

    private final ReservationService reservations;
    private final ReservationProperties settings;
    private Disposable running;

    public HoldSweeper(ReservationService reservations, ReservationProperties properties) {
        this.reservations = reservations;
        this.settings = properties;
    }

    @EventListener(ApplicationReadyEvent.class)
    public void start() {
        if (!settings.sweeperEnabled() || running != null) {
            return;
        }
        Duration interval = settings.sweepInterval();
        // onBackpressureDrop: a slow tick (database trouble) skips ticks instead of queueing them.
        running = Flux.interval(interval, interval)
                .onBackpressureDrop()
                .concatMap(tick -> sweep()
                        .onErrorResume(e -> {
                            log.warn("hold sweep failed, retrying next tick: {}", e.toString());
                            return Mono.empty();
                        }), 0)
                .subscribe();
    }

    /** Expires everything due now (bounded per call) and purges stale idempotency records. */
    public Mono<Integer> sweep() {
        return reservations.sweepOnce()
                .expand(n -> n >= settings.sweepBatch() ? reservations.sweepOnce() : Mono.empty())
                .take(MAX_BATCHES_PER_TICK)
                .reduce(0, Integer::sum)
                .flatMap(total -> reservations.purgeIdempotencyKeys().thenReturn(total))
                .doOnNext(total -> {
                    if (total > 0) {
                        log.debug("expired {} holds", total);
                    }
                });
    }

    @PreDestroy
    public void stop() {
        if (running != null) {
            running.dispose();
        }
    }
}
