package com.concertbooking.support;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/** All {@code booking.*} settings (SPEC section 3, Configuration). */
@ConfigurationProperties("booking")
public record BookingProperties(Queue queue, Reservation reservation, Token token, Admin admin, Kafka kafka,
                                DemoData demoData) {

    public record Queue(int admitPerTick, Duration tick, int maxActive, Duration activeTtl, Duration waitingTimeout,
                        int maxStreamsPerToken) {}

    public record Reservation(Duration holdDuration, Duration sweepInterval, int sweepBatch, boolean sweeperEnabled,
                              int maxHoldsPerUser) {}

    /** @param allowRandomSecret an empty secret means a random one per start (dev); false in the prod profile */
    public record Token(String secret, boolean allowRandomSecret) {}

    public record Admin(String apiKey) {}

    public record Kafka(String bootstrapServers) {}

    /** @param password the demo fans' password (printed by bin/run) */
    public record DemoData(boolean enabled, String password) {}
}
