package com.concertbooking.queue;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.springframework.stereotype.Component;

/**
 * Estimated waits (SPEC 3 {@code estimatedWaitSeconds}): only while admission is RUNNING, at the rate this queue
 * showed while running ({@link AdmissionRate}, one per concert this instance ticks), or at the configured rate before
 * any was observed. Paused, cap-full or sold-out queues get no estimate: the fan sees why instead of a made-up time.
 */
@Component
class WaitEstimates {

    private final Clock clock;
    private final Duration tick;
    private final Map<Long, AdmissionRate> rates = new ConcurrentHashMap<>();

    WaitEstimates(Clock clock, QueueProperties properties) {
        this.clock = clock;
        this.tick = properties.tick();
    }

    /** Every admission step this instance runs for a concert, won or lost, feeds its rate. */
    void observe(QueueStore.TickResult r) {
        boolean running = r.open() && r.waiting() > 0 && r.admission() == Admission.RUNNING;
        rates.computeIfAbsent(r.concertId(), id -> new AdmissionRate(clock)).observe(r.admittedTotal(), running);
    }

    /** Forgets the concerts whose queues this instance no longer ticks. */
    void retain(Set<Long> live) {
        rates.keySet().retainAll(live);
    }

    /** Admissions per second observed while running, if known. */
    OptionalDouble observedRate(long concertId) {
        AdmissionRate rate = rates.get(concertId);
        return rate == null ? OptionalDouble.empty() : rate.perSecond();
    }

    /** Seconds until admission for a waiting position; null unless admission is running. */
    Long seconds(long concertId, long position, Admission admission, int admitPerTick) {
        if (admission != Admission.RUNNING) {
            return null;
        }
        OptionalDouble observed = observedRate(concertId);
        if (observed.isPresent() && observed.getAsDouble() > 0) {
            return (long) Math.ceil(position / observed.getAsDouble());
        }
        if (admitPerTick > 0) {
            long ticks = (position + admitPerTick - 1) / admitPerTick;
            return (long) Math.ceil(ticks * tick.toMillis() / 1000.0);
        }
        return null;
    }
}
