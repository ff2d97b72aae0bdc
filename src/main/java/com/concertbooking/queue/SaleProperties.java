package com.concertbooking.queue;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/** {@code booking.sale.*}: a scheduled sale's pre-queue opens {@code prequeueWindow} before opensAt unless the sale says otherwise (SPEC 14). */
@ConfigurationProperties("booking.sale")
record SaleProperties(Duration prequeueWindow) {}
