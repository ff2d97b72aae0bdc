package com.concertbooking.events;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import com.concertbooking.events.EventTransport.TopicSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

/**
 * Creates the four event topics and their dead-letter topics when missing, in the background: the
 * application starts (and takes payments) whether or not the broker answers. The relay and the
 * consumer wait for {@link #ready()} so topics get our partitions and retention rather than the
 * broker's auto-create defaults.
 */
@Component
class TopicInitializer {

    private static final Logger log = LoggerFactory.getLogger(TopicInitializer.class);

    private final Mono<Void> ready;
    private volatile boolean done;

    public TopicInitializer(EventTransport transport, EventsProperties properties) {
        List<TopicSpec> specs = new ArrayList<>();
        EventsProperties.Topics t = properties.topics();
        for (OutboxWriter.EventType type : OutboxWriter.EventType.values()) {
            String topic = properties.topic(type.topic());
            specs.add(new TopicSpec(topic, t.partitions(), t.replicationFactor(), t.retention()));
            specs.add(new TopicSpec(properties.deadLetterTopic(topic), t.partitions(), t.replicationFactor(), t.dltRetention()));
        }
        this.ready = Mono.defer(() -> transport.createMissingTopics(specs, properties.adminTimeout()))
                .doOnSuccess(v -> log.info("Event topics present: {}", specs.stream().map(TopicSpec::name).toList()))
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(30))
                        .filter(transport::isTransient)
                        .doBeforeRetry(s -> {
                            if (s.totalRetries() % 10 == 0) { // the broker may be down for long: log now and then
                                log.warn("Kafka not reachable to create topics (attempt {}): {}", s.totalRetries() + 1, s.failure().toString());
                            }
                        }))
                .onErrorResume(e -> {
                    log.error("Could not create event topics; relaying anyway (sends fail until they exist)", e);
                    return Mono.empty();
                })
                .doOnSuccess(v -> done = true)
                .cache();
    }

    /** False while topic creation still waits for the broker (the relay and consumer wait with it). */
    public boolean isDone() {
        return done;
    }

    /** Completes once the topics exist (or creation failed for a reason that retrying cannot fix). */
    public Mono<Void> ready() {
        return ready;
    }
}
