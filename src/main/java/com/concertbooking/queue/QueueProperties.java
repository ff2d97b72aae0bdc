package com.concertbooking.queue;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/** {@code booking.queue.*}: admission defaults (SPEC 3 Configuration, 5); an operator's stored policy overrides them per concert. */
@ConfigurationProperties("booking.queue")
record QueueProperties(int admitPerTick, Duration tick, int maxActive, Duration activeTtl, Duration waitingTimeout,
                       int maxStreamsPerToken) {}
