package com.concertbooking.events;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import com.concertbooking.events.EventTransport.Outgoing;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.TimeGauge;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.util.retry.Retry;

/**
 * Delivers outbox rows to Kafka (SPEC 4.6, 7). One pass: claim a batch in a short transaction, send
 * it in id order through the idempotent acks=all producer, mark SENT exactly the acknowledged rows,
 * release the rest. Passes run one at a time per instance, woken by {@link OutboxWriter#appended()}
 * (low latency) and by a poll (nothing missed). While Kafka is down a pass fails fast, the relay
 * backs off exponentially and probes with one row at a time; rows simply wait in the outbox, so
 * payments are unaffected. Delivery is at least once: a row whose ack was lost is sent again.
 */
@Component
class OutboxRelay implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(OutboxRelay.class);
    private static final int PURGE_CHUNK = 1000;

    /** What the health indicator shows. */
    public record Status(boolean running, boolean failing, String lastError, Instant lastDeliveryAt, long unsent,
                         Duration oldestUnsentAge) {}

    private final OutboxStore store;
    private final OutboxWriter writer;
    private final EventTransport transport;
    private final TopicInitializer topics;
    private final EventsProperties.Relay settings;
    private final EventsProperties properties;
    private final Clock clock;
    private final String instance;

    private final AtomicLong unsent = new AtomicLong();
    private final AtomicLong oldestAgeMillis = new AtomicLong();
    private final Counter sentCounter;
    private final Counter sendErrors;
    private final Counter dbErrors;

    private volatile boolean failing;
    private volatile Duration backoff;
    private volatile String lastError;
    private volatile Instant lastDeliveryAt;
    private volatile boolean running;
    private final AtomicReference<Sinks.Empty<Void>> stopSignal = new AtomicReference<>();
    private volatile Disposable.Composite background = Disposables.composite();

    public OutboxRelay(OutboxStore store, OutboxWriter writer, EventTransport transport, TopicInitializer topics,
                       EventsProperties properties, Clock clock, MeterRegistry registry) {
        this.store = store;
        this.writer = writer;
        this.transport = transport;
        this.topics = topics;
        this.properties = properties;
        this.settings = properties.relay();
        this.clock = clock;
        this.instance = settings.instanceId() == null || settings.instanceId().isBlank() ? defaultInstanceId() : settings.instanceId();
        this.backoff = settings.backoffMin();
        Gauge.builder("booking.outbox.unsent", unsent, AtomicLong::get)
                .description("Outbox rows not yet acknowledged by Kafka").baseUnit("events").register(registry);
        TimeGauge.builder("booking.outbox.oldest.unsent.age", oldestAgeMillis, TimeUnit.MILLISECONDS, AtomicLong::get)
                .description("Age of the oldest outbox row not yet acknowledged by Kafka").register(registry);
        Gauge.builder("booking.outbox.relay.failing", this, r -> r.failing ? 1 : 0)
                .description("1 while the relay cannot deliver (Kafka down)").register(registry);
        this.sentCounter = Counter.builder("booking.outbox.sent").description("Outbox rows acknowledged by Kafka").register(registry);
        this.sendErrors = Counter.builder("booking.kafka.errors").tag("operation", "send")
                .description("Failed Kafka operations").register(registry);
        this.dbErrors = Counter.builder("booking.outbox.relay.errors").tag("operation", "database")
                .description("Relay passes that failed on the database").register(registry);
    }

    private static String defaultInstanceId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "unknown";
        }
        String id = host + "-" + UUID.randomUUID().toString().substring(0, 8);
        return id.length() > 64 ? id.substring(id.length() - 64) : id;
    }

    // ------------------------------------------------------------------ lifecycle

    /** Stops after the web server drained its requests, so events of the last payments still go out. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 4096;
    }

    @Override
    public boolean isAutoStartup() {
        return settings.enabled();
    }

    @Override
    public synchronized void start() {
        if (running) {
            return;
        }
        Sinks.Empty<Void> stop = Sinks.empty();
        stopSignal.set(stop);
        stopping = false;
        Flux<Long> wakeUps = Flux.merge(Flux.just(0L), writer.appended(), Flux.interval(settings.pollInterval()))
                .onBackpressureLatest(); // many commits during one pass collapse into one more pass
        Disposable.Composite tasks = Disposables.composite();
        tasks.add(topics.ready()
                .then(releaseEarlierClaims())
                .thenMany(wakeUps)
                .takeUntilOther(stop.asMono())
                .concatMap(w -> drain(), 1)
                .subscribe(v -> {}, e -> log.error("Outbox relay loop ended unexpectedly", e)));
        tasks.add(Flux.interval(Duration.ZERO, settings.lagInterval())
                .onBackpressureDrop()
                .concatMap(t -> refreshLag(), 1)
                .subscribe());
        tasks.add(Flux.interval(settings.purgeInterval(), settings.purgeInterval())
                .onBackpressureDrop()
                .concatMap(t -> purge(clock.instant().minus(settings.purgeRetention()))
                        .onErrorResume(e -> {
                            log.warn("Outbox purge failed: {}", e.toString());
                            return Mono.empty();
                        }), 1)
                .subscribe());
        background = tasks;
        running = true;
        log.info("Outbox relay {} started (batch {}, poll {})", instance, settings.batchSize(), settings.pollInterval());
    }

    @Override
    public void stop(Runnable callback) {
        // Let the pass in progress finish (its rows get marked or released), then stop; bounded wait.
        stopping = true;
        Sinks.Empty<Void> stop = stopSignal.get();
        if (stop != null) {
            stop.tryEmitEmpty();
        }
        Flux.interval(Duration.ZERO, Duration.ofMillis(50))
                .filter(t -> !draining)
                .next()
                .timeout(Duration.ofSeconds(15))
                .onErrorResume(e -> Mono.empty())
                .doFinally(s -> {
                    stop();
                    callback.run();
                })
                .subscribe();
    }

    @Override
    public synchronized void stop() {
        if (running) {
            background.dispose();
            running = false;
            log.info("Outbox relay {} stopped", instance);
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    // ------------------------------------------------------------------ relaying

    private volatile boolean draining;
    private volatile boolean stopping;

    /** Passes until the outbox is empty (a pass that claimed a full batch is followed by another). */
    Mono<Void> drain() {
        return Mono.defer(this::pass)
                .doFirst(() -> draining = true)
                .repeat()
                .takeUntil(more -> !more || stopping)
                .then()
                .doFinally(s -> draining = false)
                .onErrorResume(e -> {
                    log.error("Outbox relay pass failed unexpectedly", e);
                    return Mono.empty();
                });
    }

    /** @return true when another pass should follow at once. */
    private Mono<Boolean> pass() {
        int limit = failing ? 1 : settings.batchSize(); // while Kafka is down, probe with one row
        return store.claim(instance, limit, settings.lease())
                .flatMap(rows -> rows.isEmpty() ? Mono.just(false) : send(rows).map(ok -> ok && rows.size() == limit))
                .onErrorResume(e -> {
                    dbErrors.increment();
                    return failed("database", e).thenReturn(false);
                });
    }

    private Mono<Boolean> send(List<OutboxStore.Row> rows) {
        Set<Long> acked = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> error = new AtomicReference<>();
        Flux<Outgoing<Long>> records = Flux.fromIterable(rows)
                .map(r -> new Outgoing<>(properties.topic(r.topic()), r.key(), r.payload(), Map.of("eventId", r.eventId()), r.id()));
        return transport.send(records)
                .doOnNext(sent -> {
                    if (sent.ok()) {
                        acked.add(sent.correlation());
                    } else {
                        error.compareAndSet(null, sent.error());
                    }
                })
                // Safety net over the producer's own delivery timeout.
                .timeout(settings.deliveryTimeout().plusSeconds(10))
                .onErrorResume(e -> {
                    error.compareAndSet(null, e);
                    return Mono.empty();
                })
                .then(Mono.defer(() -> store.markSent(acked).retryWhen(Retry.backoff(5, Duration.ofMillis(200)))))
                .then(Mono.defer(() -> store.release(instance, rows.stream().map(OutboxStore.Row::id).filter(id -> !acked.contains(id)).toList())
                        .retryWhen(Retry.backoff(5, Duration.ofMillis(200)))))
                .then(Mono.defer(() -> {
                    if (!acked.isEmpty()) {
                        sentCounter.increment(acked.size());
                        lastDeliveryAt = clock.instant();
                    }
                    if (error.get() == null && acked.size() == rows.size()) {
                        recovered();
                        return Mono.just(true);
                    }
                    sendErrors.increment();
                    Throwable e = error.get() != null ? error.get() : new IllegalStateException("no acknowledgement for some records");
                    return failed("kafka", e).thenReturn(false);
                }));
    }

    private void recovered() {
        if (failing) {
            log.info("Outbox relay delivering again");
        }
        failing = false;
        lastError = null;
        backoff = settings.backoffMin();
    }

    /** Logs the first failure of a streak, then waits the current backoff (doubling up to the maximum). */
    private Mono<Void> failed(String what, Throwable e) {
        if (!failing) {
            log.warn("Outbox relay cannot deliver ({}): {}; retrying with backoff, events wait in the outbox", what, e.toString());
        } else {
            log.debug("Outbox relay still failing ({}): {}", what, e.toString());
        }
        failing = true;
        lastError = what + ": " + e;
        Duration wait = backoff;
        Duration next = wait.multipliedBy(2);
        backoff = next.compareTo(settings.backoffMax()) > 0 ? settings.backoffMax() : next;
        return Mono.delay(wait).then();
    }

    // ------------------------------------------------------------------ purge and lag

    /** Deletes SENT rows older than {@code cutoff}, in chunks. @return rows deleted */
    public Mono<Long> purge(Instant cutoff) {
        return Mono.defer(() -> store.purgeSentBefore(cutoff, PURGE_CHUNK))
                .repeat()
                .takeUntil(n -> n < PURGE_CHUNK)
                .reduce(0L, Long::sum);
    }

    private Mono<Void> refreshLag() {
        return store.lag()
                .doOnNext(lag -> {
                    unsent.set(lag.unsent());
                    oldestAgeMillis.set(lag.oldestAge().toMillis());
                })
                .onErrorResume(e -> Mono.empty())
                .then();
    }

    /** Rows leased under this id by an earlier life of the instance go back to the pool at once (see OutboxStore). */
    private Mono<Void> releaseEarlierClaims() {
        return store.releaseAll(instance)
                .timeout(Duration.ofSeconds(10))
                .doOnNext(n -> {
                    if (n > 0) {
                        log.info("Outbox relay {} released {} rows claimed by its earlier run", instance, n);
                    }
                })
                .onErrorResume(e -> {
                    log.warn("Outbox relay {} could not release earlier claims (they wait for their lease): {}", instance, e.toString());
                    return Mono.empty();
                })
                .then();
    }

    public Status status() {
        return new Status(running, failing, lastError, lastDeliveryAt, unsent.get(), Duration.ofMillis(oldestAgeMillis.get()));
    }

    public String instanceId() {
        return instance;
    }
}
