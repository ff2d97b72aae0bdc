package com.concertbooking.booking;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code booking.reservation.*}: holds and their sweeper (SPEC 3 Configuration); {@code maxTicketsPerUser}: held plus
 * paid seats per user and concert (SPEC 4.13) unless the concert sets its own.
 */
@ConfigurationProperties("booking.reservation")
record ReservationProperties(Duration holdDuration, Duration sweepInterval, int sweepBatch, boolean sweeperEnabled,
                             int maxHoldsPerUser, int maxTicketsPerUser) {}
