package com.concertbooking.events;

import org.springframework.boot.context.properties.ConfigurationProperties;

/** {@code booking.kafka.*}: where the Kafka brokers are (the rest of the events' settings: {@link EventsProperties}). */
@ConfigurationProperties("booking.kafka")
record BrokerProperties(String bootstrapServers) {}
