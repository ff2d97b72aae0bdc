package com.concertbooking.booking;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/** {@code booking.reservation.*}: holds and their sweeper (SPEC 3 Configuration). */
@ConfigurationProperties("booking.reservation")
record ReservationProperties(Duration holdDuration, Duration sweepInterval, int sweepBatch, boolean sweeperEnabled,
                             int maxHoldsPerUser) {}
