package com.concertbooking.events;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;

import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Our port to the message broker. The relay, the consumer and the health indicator use only this;
 * {@link ReactorKafkaTransport} is the one class that knows reactor-kafka (discontinued), so moving
 * to another client (spring-kafka, plain kafka-clients, ...) means one new implementation of this
 * interface and nothing else.
 */
interface EventTransport {

    /** A record to send. {@code correlation} comes back in the matching {@link Sent}. */
    record Outgoing<C>(String topic, String key, String value, Map<String, String> headers, C correlation) {}

    /** The outcome of one record: acknowledged by the broker ({@code error == null}, with acks=all) or failed. */
    record Sent<C>(C correlation, Throwable error) {
        public boolean ok() {
            return error == null;
        }
    }

    /** A received record; call {@link #acknowledge()} once it is fully processed. */
    record Incoming(String topic, int partition, long offset, String key, String value, Map<String, String> headers,
                    Runnable acknowledger) {
        public void acknowledge() {
            acknowledger.run();
        }
    }

    record TopicSpec(String name, int partitions, short replicationFactor, Duration retention) {}

    record BrokerInfo(String clusterId, int nodes) {}

    /**
     * Sends records in the given order with an idempotent, acks=all producer, so records of one key
     * (one partition) are stored in that order. Emits one {@link Sent} per record as acks arrive.
     * On the first failure it emits that failure and stops dispatching the rest (they are not sent),
     * then completes; records already in flight may still be stored, their outcome is then unknown.
     * Never blocks the calling thread.
     */
    <C> Flux<Sent<C>> send(Flux<Outgoing<C>> records);

    /**
     * Joins consumer group {@code group} on {@code topics}; a new consumer per subscription, closed on
     * cancel. Records of one partition arrive in order. Offsets are committed periodically and on
     * rebalance, only up to acknowledged records (acknowledge in order within a partition). A new group
     * starts from the earliest offset. Broker outages are retried inside; the flux does not error for them.
     */
    Flux<Incoming> receive(String group, Collection<String> topics);

    /** Creates the topics that do not exist yet; existing ones are left unchanged. */
    Mono<Void> createMissingTopics(Collection<TopicSpec> topics, Duration timeout);

    /** Asks the broker for its cluster id and node count, within {@code timeout}. */
    Mono<BrokerInfo> describe(Duration timeout);

    /** Whether an error of this transport may go away by itself (broker unreachable, timeouts). */
    boolean isTransient(Throwable error);
}
