package com.concertbooking.queue;

import java.time.Duration;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationStartedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.stereotype.Component;
import reactor.core.scheduler.Schedulers;

/**
 * Opens the shared Redis connection once, on a thread that may block, before traffic arrives. Spring Data
 * Redis creates it lazily and synchronously on first use, which would otherwise be an event-loop thread.
 */
@Component
class RedisWarmup {

    private static final Logger log = LoggerFactory.getLogger(RedisWarmup.class);
    private final ReactiveStringRedisTemplate redis;

    RedisWarmup(ReactiveStringRedisTemplate redis) {
        this.redis = redis;
    }

    @EventListener(ApplicationStartedEvent.class)
    void connect() {
        redis.hasKey(QueueStore.key(0, "warmup"))
                .subscribeOn(Schedulers.boundedElastic())
                .timeout(Duration.ofSeconds(10))
                .subscribe(ok -> log.debug("redis connection ready"), e -> log.warn("redis not reachable at start-up: {}", e.toString()));
    }
}
