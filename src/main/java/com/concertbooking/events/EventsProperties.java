package com.concertbooking.events;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code booking.events.*}: topics, the outbox relay and the notification consumer (issue 5).
 * The broker address itself is {@code booking.kafka.bootstrap-servers}.
 *
 * @param topicPrefix prepended to every topic name (empty in production; tests use a per-run prefix
 *                    so they never share topics with other runs on a shared broker)
 * @param dltSuffix   dead-letter topic = topic + suffix
 */
@ConfigurationProperties("booking.events")
record EventsProperties(String topicPrefix, String dltSuffix, Topics topics, Relay relay, Consumer consumer,
                               Duration adminTimeout) {

    public EventsProperties {
        topicPrefix = topicPrefix == null ? "" : topicPrefix;
        dltSuffix = dltSuffix == null || dltSuffix.isBlank() ? ".dlt" : dltSuffix;
        adminTimeout = adminTimeout == null ? Duration.ofSeconds(10) : adminTimeout;
    }

    /** Settings for topics created at start-up when missing (existing topics are left as they are). */
    public record Topics(int partitions, short replicationFactor, Duration retention, Duration dltRetention) {}

    /**
     * @param pollInterval     the relay also polls, so a missed wake-up signal only adds this much latency
     * @param batchSize        rows claimed per pass
     * @param deliveryTimeout  producer delivery.timeout.ms: how long one send may wait for an ack (broker down)
     * @param lease            how long a claim stays with an instance that stopped answering (> deliveryTimeout)
     * @param backoffMin       first pause after a failed pass; doubles up to backoffMax while Kafka is down
     * @param purgeRetention   SENT rows older than this are deleted
     * @param purgeInterval    how often the purge runs
     * @param lagInterval      how often outbox lag (unsent count, oldest age) is measured
     */
    public record Relay(boolean enabled, Duration pollInterval, int batchSize, Duration deliveryTimeout, Duration lease,
                        Duration backoffMin, Duration backoffMax, Duration purgeRetention, Duration purgeInterval,
                        Duration lagInterval, String instanceId) {}

    /**
     * @param maxAttempts    attempts for an event that fails for a reason of its own before it goes to the DLT
     *                       (database outages are retried without limit instead: they are not the event's fault)
     * @param sessionTimeout how long the group waits for a silent member (a killed instance) before its
     *                       partitions go to the others; the client's 45 s default would stall those partitions
     */
    public record Consumer(boolean enabled, String group, int maxAttempts, Duration retryBackoff,
                           Duration commitInterval, Duration sessionTimeout) {

        public Consumer {
            sessionTimeout = sessionTimeout == null ? Duration.ofSeconds(10) : sessionTimeout;
        }
    }

    /** The four topics of SPEC section 7, as named on the broker. */
    public String topic(String baseTopic) {
        return topicPrefix + baseTopic;
    }

    public String deadLetterTopic(String topic) {
        return topic + dltSuffix;
    }
}
