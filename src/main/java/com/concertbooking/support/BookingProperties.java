package com.concertbooking.support;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/** All {@code booking.*} settings (SPEC section 3, Configuration). */
@ConfigurationProperties("booking")
public record BookingProperties(Queue queue, Reservation reservation, Token token, Admin admin, Kafka kafka,
                                DemoData demoData, Sale sale) {

    public record Queue(int admitPerTick, Duration tick, int maxActive, Duration activeTtl, Duration waitingTimeout,
                        int maxStreamsPerToken) {}

    /** @param maxTicketsPerUser held plus paid seats per user and concert (SPEC 4.13) unless the concert sets its own */
    public record Reservation(Duration holdDuration, Duration sweepInterval, int sweepBatch, boolean sweeperEnabled,
                              int maxHoldsPerUser, int maxTicketsPerUser) {}

    /** @param prequeueWindow how long before opensAt the pre-queue opens unless a sale says otherwise (SPEC 14) */
    public record Sale(Duration prequeueWindow) {}

    /** @param allowRandomSecret an empty secret means a random one per start (dev); false in the prod profile */
    public record Token(String secret, boolean allowRandomSecret) {}

    public record Admin(String apiKey) {}

    public record Kafka(String bootstrapServers) {}

    /** @param password the demo fans' password (printed by bin/run) */
    public record DemoData(boolean enabled, String password) {}
}
