package com.concertbooking.queue;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.springframework.stereotype.Component;

/**
 * Queue meters: waiting and active per concert (refreshed by every instance's scheduler pass), admissions
 * made by this instance, open SSE streams, and how long each admission pass takes ({@code booking.queue.tick}).
 * Also remembers each concert's effective waiting timeout, which the stream hub needs to keep open streams
 * counted as present.
 */
@Component
class QueueMetrics {

    private record ConcertMeters(AtomicLong waiting, AtomicLong active, AtomicLong waitTimeoutMs, Meter waitingGauge,
                                 Meter activeGauge) {}

    private final MeterRegistry registry;
    private final Map<Long, ConcertMeters> concerts = new ConcurrentHashMap<>();
    private final Counter admissions;
    private final Timer tick;

    public QueueMetrics(MeterRegistry registry) {
        this.registry = registry;
        // One series: per-concert admissions follow from the active gauges; this one feeds the admission-rate alerts.
        this.admissions = Counter.builder("booking.queue.admissions").description("Users admitted by this instance").register(registry);
        // A pass over every live queue: how long the admission step takes as queues grow (docs/scaling.md).
        this.tick = Timer.builder("booking.queue.tick").description("One admission pass over all concerts with a queue")
                .serviceLevelObjectives(Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
                        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofSeconds(1))
                .register(registry);
    }

    void tickTook(long nanos) {
        tick.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    public void streams(Supplier<Number> openStreams) {
        Gauge.builder("booking.queue.streams", openStreams, s -> s.get().doubleValue())
                .strongReference(true) // gauges hold their object weakly; this supplier has no other owner
                .description("Open queue SSE streams on this instance").register(registry);
    }

    void record(QueueStore.TickResult result) {
        ConcertMeters m = concerts.computeIfAbsent(result.concertId(), this::register);
        m.waiting().set(result.waiting());
        m.active().set(result.active());
        m.waitTimeoutMs().set(result.waitTimeoutMs());
        if (result.admitted() > 0) {
            admissions.increment(result.admitted());
        }
    }

    /** Drops the gauges of concerts whose queue is empty (keeps the series count bounded). */
    void retain(Set<Long> live) {
        concerts.keySet().removeIf(id -> {
            if (live.contains(id)) {
                return false;
            }
            ConcertMeters m = concerts.get(id);
            registry.remove(m.waitingGauge());
            registry.remove(m.activeGauge());
            return true;
        });
    }

    /** The waiting timeout in force for a concert as last seen, or the fallback before the first pass. */
    long waitTimeoutMs(long concertId, long fallback) {
        ConcertMeters m = concerts.get(concertId);
        return m == null ? fallback : m.waitTimeoutMs().get();
    }

    private ConcertMeters register(long concertId) {
        AtomicLong waiting = new AtomicLong();
        AtomicLong active = new AtomicLong();
        String tag = Long.toString(concertId);
        Meter w = Gauge.builder("booking.queue.waiting", waiting, AtomicLong::get)
                .description("Users waiting in a concert's queue").tag("concert", tag).register(registry);
        Meter a = Gauge.builder("booking.queue.active", active, AtomicLong::get)
                .description("Active (admitted) passes of a concert").tag("concert", tag).register(registry);
        return new ConcertMeters(waiting, active, new AtomicLong(), w, a);
    }
}
