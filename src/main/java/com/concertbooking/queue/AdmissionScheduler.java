package com.concertbooking.queue;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Runs the admission step for every concert with a queue. Every instance runs it, twice per tick: the
 * admit script claims the tick's slot in Redis, so exactly one call per slot and concert admits (the
 * others only read counts for the gauges). An instance that dies simply stops competing for slots.
 * Every {@link #POLICY_SYNC} it also brings the Redis copies of those concerts' policies up to the database.
 */
@Component
class AdmissionScheduler implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(AdmissionScheduler.class);
    static final Duration POLICY_SYNC = Duration.ofSeconds(5);

    private final QueueStore store;
    private final QueueMetrics metrics;
    private final Duration period;
    private volatile Disposable running;
    private volatile long lastFailureLog;
    private volatile long lastPolicySync;

    public AdmissionScheduler(QueueStore store, QueueMetrics metrics, QueueProperties properties) {
        this.store = store;
        this.metrics = metrics;
        // Half the tick: a late timer never makes a whole slot go by unclaimed.
        this.period = Duration.ofMillis(Math.max(50, properties.tick().toMillis() / 2));
    }

    /** One pass over all concerts with a queue; results of the concerts this call admitted in or looked at. */
    public Mono<List<QueueStore.TickResult>> tickAll() {
        return syncPolicies().then(ticks());
    }

    private Mono<Void> syncPolicies() {
        long now = System.currentTimeMillis();
        if (now - lastPolicySync < POLICY_SYNC.toMillis()) {
            return Mono.empty();
        }
        lastPolicySync = now;
        return store.concerts().collect(java.util.stream.Collectors.toSet()).flatMap(store::syncPolicies).onErrorResume(e -> {
            logFailure(e);
            return Mono.empty();
        });
    }

    private Mono<List<QueueStore.TickResult>> ticks() {
        return Mono.defer(() -> {
            long started = System.nanoTime();
            return timedTicks().doOnSuccess(r -> metrics.tickTook(System.nanoTime() - started));
        });
    }

    private Mono<List<QueueStore.TickResult>> timedTicks() {
        return store.concerts()
                .flatMap(concertId -> store.tick(concertId).onErrorResume(e -> {
                    logFailure(e);
                    return Mono.empty();
                }), 16)
                .doOnNext(metrics::record)
                .collectList()
                .doOnNext(results -> {
                    Set<Long> live = new HashSet<>();
                    results.forEach(r -> live.add(r.concertId()));
                    metrics.retain(live);
                });
    }

    @Override
    public void start() {
        running = Flux.interval(period, period, Schedulers.parallel())
                .onBackpressureDrop()
                .concatMap(i -> tickAll().onErrorResume(e -> {
                    logFailure(e);
                    return Mono.empty();
                }), 1)
                .subscribe();
    }

    private void logFailure(Throwable e) {
        long now = System.currentTimeMillis();
        if (now - lastFailureLog > 10_000) { // Redis down means a failure every tick: log it now and then
            lastFailureLog = now;
            log.warn("queue admission pass failed: {}", e.toString());
        }
    }

    @Override
    public void stop() {
        Disposable d = running;
        if (d != null) {
            d.dispose();
        }
        running = null;
    }

    @Override
    public boolean isRunning() {
        Disposable d = running;
        return d != null && !d.isDisposed(); // a loop killed by an unhandled error reports itself stopped
    }
}
