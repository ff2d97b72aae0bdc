package com.concertbooking.events;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import com.concertbooking.events.EventTransport.Incoming;
import com.concertbooking.events.EventTransport.Outgoing;
import com.concertbooking.events.NotificationStore.Notification;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcTransientResourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.QueryTimeoutException;
import org.springframework.dao.TransientDataAccessResourceException;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.util.retry.Retry;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The downstream consumer of SPEC section 7: records one {@code notification} row per event (a
 * stand-in for push messages), idempotent on the event id, so redeliveries are absorbed.
 *
 * <p>Per partition, in order: parse and validate, insert (auto-committed; records that arrive together
 * share one multi-row insert), then acknowledge the offsets, which are committed afterwards
 * (periodically and on rebalance). A crash between insert
 * and commit redelivers the record; the unique event id makes that harmless.
 * Failures: a database outage is retried without limit (the event is fine; the consumer waits);
 * any other failure is retried a few times, then the record goes to the dead-letter topic with the
 * error in its headers, and consumption continues. A malformed record is not retried.
 */
@Component
class NotificationConsumer implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(NotificationConsumer.class);
    private static final int MAX_EVENT_ID = 36;
    private static final int BATCH = 200;
    private static final Set<String> TYPES = Arrays.stream(OutboxWriter.EventType.values()).filter(OutboxWriter.EventType::notifies)
            .map(OutboxWriter.EventType::type).collect(Collectors.toUnmodifiableSet());

    /** A record that can never be processed: its content is wrong. */
    static final class PoisonMessageException extends RuntimeException {
        PoisonMessageException(String message) {
            super(message, null, false, false);
        }
    }

    private final EventTransport transport;
    private final NotificationStore store;
    private final TopicInitializer topics;
    private final EventsProperties properties;
    private final ObjectMapper json;
    private final Clock clock;
    private final List<String> topicNames;
    private final Counter recorded;
    private final Counter duplicates;
    private final Counter deadLettered;
    private final Counter receiveErrors;
    private final Counter dltErrors;
    private final Timer latency;
    private volatile Disposable subscription;

    public NotificationConsumer(EventTransport transport, NotificationStore store, TopicInitializer topics,
                                EventsProperties properties, ObjectMapper json, Clock clock, MeterRegistry registry) {
        this.transport = transport;
        this.store = store;
        this.topics = topics;
        this.properties = properties;
        this.json = json;
        this.clock = clock;
        this.topicNames = Arrays.stream(OutboxWriter.EventType.values()).filter(OutboxWriter.EventType::notifies)
                .map(t -> properties.topic(t.topic())).toList();
        this.recorded = Counter.builder("booking.notifications.recorded").tag("result", "new").register(registry);
        this.duplicates = Counter.builder("booking.notifications.recorded").tag("result", "duplicate").register(registry);
        this.deadLettered = Counter.builder("booking.events.dead.lettered").description("Records sent to a dead-letter topic").register(registry);
        this.receiveErrors = Counter.builder("booking.kafka.errors").tag("operation", "receive").register(registry);
        this.dltErrors = Counter.builder("booking.kafka.errors").tag("operation", "dead-letter").register(registry);
        this.latency = Timer.builder("booking.events.delivery.latency")
                .description("From the event's occurredAt (written in the business transaction) to its notification row")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
    }

    // ------------------------------------------------------------------ lifecycle

    /** Stops after the web server drained its requests, so events of the last payments still go out. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 4096;
    }

    @Override
    public boolean isAutoStartup() {
        return properties.consumer().enabled();
    }

    @Override
    public synchronized void start() {
        if (isRunning()) {
            return;
        }
        String group = properties.consumer().group();
        subscription = topics.ready()
                .thenMany(Flux.defer(() -> transport.receive(group, topicNames)))
                // One lane per partition (order kept within it, partitions in parallel); records that
                // arrive together are recorded in one multi-row insert.
                .groupBy(r -> r.topic() + "-" + r.partition())
                // The buffer timer runs on boundedElastic, not parallel: parsing may wait on Jackson's
                // deserializer-cache lock, which must never happen on a non-blocking thread.
                .flatMap(lane -> lane.bufferTimeout(BATCH, Duration.ofMillis(5), Schedulers.boundedElastic(), true)
                        .concatMap(this::handleBatch), Integer.MAX_VALUE)
                .doOnError(e -> {
                    receiveErrors.increment();
                    log.warn("Notification consumer failed, rejoining group {}: {}", group, e.toString());
                })
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(30)))
                .subscribe();
        log.info("Notification consumer started: group {} on {}", group, topicNames);
    }

    @Override
    public synchronized void stop() {
        Disposable s = subscription;
        if (s != null) {
            s.dispose(); // closes the Kafka consumer; acknowledged offsets are committed on close
            subscription = null;
            log.info("Notification consumer stopped");
        }
    }

    @Override
    public boolean isRunning() {
        Disposable s = subscription;
        return s != null && !s.isDisposed();
    }

    // ------------------------------------------------------------------ processing

    /**
     * Fast path: every valid record of the batch in one INSERT IGNORE; if that fails, each record on its
     * own with retries and dead-lettering. Offsets are acknowledged, in order, only after all of the
     * batch is recorded or dead-lettered.
     */
    private Mono<Void> handleBatch(List<Incoming> batch) {
        List<Incoming> valid = new ArrayList<>();
        List<Parsed> parsed = new ArrayList<>();
        List<Incoming> poison = new ArrayList<>();
        for (Incoming record : batch) {
            try {
                parsed.add(parse(record.value()));
                valid.add(record);
            } catch (PoisonMessageException e) {
                poison.add(record);
            }
        }
        Instant now = clock.instant();
        Mono<Void> insert = valid.isEmpty() ? Mono.empty() : store.recordAllOnce(parsed.stream().map(p -> p.notification(now)).toList())
                .doOnNext(inserted -> {
                    recorded.increment(inserted);
                    duplicates.increment(valid.size() - inserted);
                    if (inserted == valid.size()) {
                        parsed.stream().filter(p -> p.occurredAt() != null).forEach(p -> latency.record(Duration.between(p.occurredAt(), now)));
                    }
                })
                .then()
                .onErrorResume(e -> {
                    log.debug("Batch insert of {} notifications failed ({}); recording one by one", valid.size(), e.toString());
                    return Flux.fromIterable(valid).concatMap(this::processWithRetries).then();
                });
        return insert
                .then(Flux.fromIterable(poison).concatMap(this::processWithRetries).then())
                .then(Mono.fromRunnable(() -> batch.forEach(Incoming::acknowledge)));
    }

    /** One record: retried as described on the class, dead-lettered if it keeps failing; never errors. */
    private Mono<Void> processWithRetries(Incoming record) {
        int maxAttempts = Math.max(1, properties.consumer().maxAttempts());
        return Mono.defer(() -> process(record))
                .subscribeOn(Schedulers.boundedElastic()) // parses: off the event loop that finished the batch insert
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofMillis(500)).maxBackoff(Duration.ofSeconds(10))
                        .scheduler(Schedulers.boundedElastic()) // a retry parses again: same reason as the buffer timer
                        .filter(NotificationConsumer::isInfrastructure)
                        .doBeforeRetry(s -> {
                            if (s.totalRetries() % 10 == 0) {
                                log.warn("Database unavailable while recording event at {}-{}@{}; waiting: {}",
                                        record.topic(), record.partition(), record.offset(), s.failure().toString());
                            }
                        }))
                .retryWhen(Retry.backoff(maxAttempts - 1, properties.consumer().retryBackoff())
                        .scheduler(Schedulers.boundedElastic())
                        .filter(e -> !(e instanceof PoisonMessageException))
                        .onRetryExhaustedThrow((spec, signal) -> signal.failure()))
                .onErrorResume(e -> deadLetter(record, e));
    }

    private Mono<Void> process(Incoming record) {
        Parsed parsed = parse(record.value());
        Instant now = clock.instant();
        return store.recordOnce(parsed.notification(now))
                .doOnNext(isNew -> {
                    if (isNew) {
                        recorded.increment();
                        if (parsed.occurredAt() != null) {
                            latency.record(Duration.between(parsed.occurredAt(), now));
                        }
                    } else {
                        duplicates.increment();
                    }
                })
                .then();
    }

    private record Parsed(String eventId, String type, long userId, Long reservationId, Long paymentId, Instant occurredAt) {
        Notification notification(Instant now) {
            return new Notification(eventId, type, userId, reservationId, paymentId, now);
        }
    }

    /** Validates everything the insert needs, so a bad record is rejected here and never half-stored. */
    Parsed parse(String value) {
        if (value == null || value.isBlank()) {
            throw new PoisonMessageException("empty record value");
        }
        JsonNode node;
        try {
            node = json.readTree(value);
        } catch (JacksonException e) {
            throw new PoisonMessageException("value is not JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw new PoisonMessageException("value is not a JSON object");
        }
        String eventId = text(node, "eventId");
        if (eventId.length() > MAX_EVENT_ID) {
            throw new PoisonMessageException("eventId longer than " + MAX_EVENT_ID);
        }
        String type = text(node, "type");
        if (!TYPES.contains(type)) {
            throw new PoisonMessageException("unknown event type '" + type + "'");
        }
        long userId = id(node, "userId", true);
        Long reservationId = optionalId(node, "reservationId");
        Long paymentId = optionalId(node, "paymentId");
        Instant occurredAt = null;
        JsonNode at = node.get("occurredAt");
        if (at != null && at.isString()) {
            try {
                occurredAt = Instant.parse(at.stringValue());
            } catch (DateTimeParseException e) {
                throw new PoisonMessageException("occurredAt is not an ISO-8601 instant");
            }
        }
        return new Parsed(eventId, type, userId, reservationId, paymentId, occurredAt);
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isString() || v.stringValue().isBlank()) {
            throw new PoisonMessageException("missing or non-text '" + field + "'");
        }
        return v.stringValue();
    }

    private static long id(JsonNode node, String field, boolean required) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new PoisonMessageException("missing '" + field + "'");
            }
            return 0;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() <= 0) {
            throw new PoisonMessageException("'" + field + "' is not a positive id");
        }
        return v.longValue();
    }

    private static Long optionalId(JsonNode node, String field) {
        long v = id(node, field, false);
        return v == 0 ? null : v;
    }

    /** Database and network trouble: not the event's fault, so it never sends the event to the DLT. */
    static boolean isInfrastructure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof DataAccessResourceFailureException || t instanceof TransientDataAccessResourceException
                    || t instanceof QueryTimeoutException || t instanceof R2dbcTransientResourceException
                    || t instanceof R2dbcNonTransientResourceException || t instanceof TimeoutException
                    || t instanceof java.io.IOException) {
                return true;
            }
        }
        return false;
    }

    /** Sends the record to its dead-letter topic; retries until the broker has it, since only then may it be acknowledged. */
    private Mono<Void> deadLetter(Incoming record, Throwable error) {
        String dlt = properties.deadLetterTopic(record.topic());
        String reason = error.getClass().getSimpleName() + ": " + error.getMessage();
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("dlt.error", reason.length() > 1000 ? reason.substring(0, 1000) : reason);
        headers.put("dlt.original.topic", record.topic());
        headers.put("dlt.original.partition", Integer.toString(record.partition()));
        headers.put("dlt.original.offset", Long.toString(record.offset()));
        headers.put("dlt.failed.at", clock.instant().toString());
        log.warn("Event at {}-{}@{} goes to {}: {}", record.topic(), record.partition(), record.offset(), dlt, reason);
        Outgoing<Long> out = new Outgoing<>(dlt, record.key(), record.value(), headers, record.offset());
        return Mono.defer(() -> transport.send(Flux.just(out)).next())
                .flatMap(sent -> sent.ok() ? Mono.just(sent) : Mono.error(sent.error()))
                .doOnError(e -> dltErrors.increment())
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(30)))
                .doOnSuccess(s -> deadLettered.increment())
                .then();
    }
}
