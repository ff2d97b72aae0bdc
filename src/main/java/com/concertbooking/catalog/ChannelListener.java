package com.concertbooking.catalog;

import java.time.Duration;
import java.util.function.Consumer;

import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.util.retry.Retry;

/**
 * One Redis pub/sub channel a catalog bean listens to while it runs (catalog invalidations, seat-map changes).
 * Its owner is a lifecycle bean that starts and stops it, rather than subscribing in a @PostConstruct: when the
 * Redis connection factory (itself a lifecycle bean) is stopped and started again, as in a paused and resumed
 * test context, its connections close without ending the listener; the owner stops before the factory and
 * listens again after it.
 */
final class ChannelListener {

    private final ReactiveStringRedisTemplate redis;
    private final String channel;
    private final Consumer<String> onMessage;
    private volatile Disposable subscription;

    ChannelListener(ReactiveStringRedisTemplate redis, String channel, Consumer<String> onMessage) {
        this.redis = redis;
        this.channel = channel;
        this.onMessage = onMessage;
    }

    void start() {
        // Deferred and retried: the listener connects lazily, so Redis being down never stops the app.
        subscription = Flux.defer(() -> redis.listenToChannel(channel))
                .doOnNext(message -> onMessage.accept(message.getMessage()))
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(10)))
                .subscribe();
    }

    void stop() {
        Disposable current = subscription;
        if (current != null) {
            current.dispose();
        }
    }

    boolean isRunning() {
        Disposable current = subscription;
        return current != null && !current.isDisposed();
    }
}
