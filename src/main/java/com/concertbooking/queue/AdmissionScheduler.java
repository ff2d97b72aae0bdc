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
 * Every {@link #POLICY_SYNC} it also brings the Redis copies of those concerts' policies and sale schedules up to the
 * database. Each step carries this instance's view of whether the concert is sold out (SPEC 14), feeds the wait
 * estimates, and, once a scheduled sale has opened, makes sure the opening is revealed (one instance's conditional
 * write wins; the others find it done).
 */
@Component
class AdmissionScheduler implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(AdmissionScheduler.class);
    static final Duration POLICY_SYNC = Duration.ofSeconds(5);

    private final QueueStore store;
    private final QueueService queue;
    private final Sales sales;
    private final WaitEstimates waits;
    private final QueueMetrics metrics;
    private final Duration period;
    /** Concerts whose opening this instance knows to be revealed (so it stops asking). */
    private final Set<Long> revealed = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Fans waiting per concert at this instance's last step (whether to ask the database about sold out). */
    private final java.util.Map<Long, Long> waiting = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile Disposable running;
    private volatile long lastFailureLog;
    private volatile long lastPolicySync;

    public AdmissionScheduler(QueueStore store, QueueService queue, Sales sales, WaitEstimates waits, QueueMetrics metrics,
                              QueueProperties properties) {
        this.store = store;
        this.queue = queue;
        this.sales = sales;
        this.waits = waits;
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
        return store.concerts().collect(java.util.stream.Collectors.toSet())
                .flatMap(ids -> store.syncPolicies(ids).then(store.syncSales(ids))).onErrorResume(e -> {
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
                .flatMap(concertId -> tick(concertId).onErrorResume(e -> {
                    logFailure(e);
                    return Mono.empty();
                }), 16)
                .doOnNext(metrics::record)
                .doOnNext(waits::observe)
                .collectList()
                .doOnNext(results -> {
                    Set<Long> live = new HashSet<>();
                    results.forEach(r -> live.add(r.concertId()));
                    metrics.retain(live);
                    waits.retain(live);
                    revealed.retainAll(live);
                    waiting.keySet().retainAll(live);
                });
    }

    /**
     * One step with this instance's view of the seats: asked (at most once a second) only while someone waits, since
     * sold out concerns waiting fans (new joins ask for themselves); unknown (kept as recorded) otherwise, or when the
     * database does not answer.
     */
    private Mono<QueueStore.TickResult> tick(long concertId) {
        Mono<java.util.Optional<Boolean>> seats = waiting.getOrDefault(concertId, 1L) == 0 ? Mono.just(java.util.Optional.empty())
                : queue.soldOut(concertId).map(java.util.Optional::of).onErrorResume(e -> Mono.just(java.util.Optional.empty()));
        return seats
                .flatMap(soldOut -> store.tick(concertId, soldOut.orElse(null)))
                .doOnNext(r -> waiting.put(concertId, r.waiting()))
                .flatMap(r -> r.cohortSize() < 0 || revealed.contains(concertId) ? Mono.just(r) : reveal(r).thenReturn(r));
    }

    /** The opening's record and its event: written by whichever instance gets there first (the rest find it done). */
    private Mono<Void> reveal(QueueStore.TickResult r) {
        return sales.reveal(r.concertId(), r.cohortSize())
                .doOnNext(sale -> log.info("sale of concert {} opened: cohort of {}, seed revealed, commitment {}",
                        sale.concertId(), sale.cohortSize(), sale.commitment()))
                .then(Mono.fromRunnable(() -> revealed.add(r.concertId())))
                .onErrorResume(e -> {
                    logFailure(e); // the next step tries again
                    return Mono.empty();
                }).then();
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
