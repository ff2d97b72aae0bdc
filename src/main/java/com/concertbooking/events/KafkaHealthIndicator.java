package com.concertbooking.events;

import java.time.Duration;

import org.springframework.boot.health.contributor.AbstractReactiveHealthIndicator;
import org.springframework.boot.health.contributor.Health;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * {@code kafka} in /actuator/health: broker reachability plus the outbox backlog. Deliberately not in
 * the readiness group (application.yml): with Kafka down the service keeps taking bookings and
 * payments, and events wait in the outbox. DOWN here means "events are delayed", not "stop traffic".
 */
@Component
class KafkaHealthIndicator extends AbstractReactiveHealthIndicator {

    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private final EventTransport transport;
    private final OutboxRelay relay;
    private final NotificationConsumer consumer;
    private final TopicInitializer topics;

    public KafkaHealthIndicator(EventTransport transport, OutboxRelay relay, NotificationConsumer consumer, TopicInitializer topics) {
        super("Kafka health check failed");
        this.transport = transport;
        this.relay = relay;
        this.consumer = consumer;
        this.topics = topics;
    }

    @Override
    protected Mono<Health> doHealthCheck(Health.Builder builder) {
        OutboxRelay.Status relayStatus = relay.status();
        builder.withDetail("outboxUnsent", relayStatus.unsent())
                .withDetail("outboxOldestUnsentAgeSeconds", relayStatus.oldestUnsentAge().toSeconds())
                .withDetail("relayRunning", relayStatus.running())
                .withDetail("relayFailing", relayStatus.failing())
                .withDetail("consumerRunning", consumer.isRunning())
                .withDetail("topicsReady", topics.isDone());
        if (relayStatus.lastDeliveryAt() != null) {
            builder.withDetail("lastDeliveryAt", relayStatus.lastDeliveryAt().toString());
        }
        if (relayStatus.lastError() != null) {
            builder.withDetail("relayLastError", relayStatus.lastError());
        }
        return transport.describe(PROBE_TIMEOUT)
                .map(info -> builder.up().withDetail("clusterId", info.clusterId()).withDetail("brokers", info.nodes()).build())
                .onErrorResume(e -> Mono.just(builder.down()
                        .withDetail("error", e.toString())
                        .withDetail("impact", "degraded: events wait in the outbox and are delivered when Kafka is back; bookings and payments continue")
                        .build()));
    }
}
