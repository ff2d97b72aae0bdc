package com.concertbooking.admin;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code booking.demo-data.*}: bin/run's demo concerts and fans.
 *
 * @param password the demo fans' password (printed by bin/run)
 */
@ConfigurationProperties("booking.demo-data")
record DemoDataProperties(boolean enabled, String password) {}
