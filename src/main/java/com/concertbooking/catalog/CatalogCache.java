package com.concertbooking.catalog;

import java.time.Duration;
import java.util.function.Supplier;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import tools.jackson.databind.ObjectMapper;

/**
 * Two-level cache for read-mostly catalog views (SPEC section 8): a local Caffeine layer (a few seconds)
 * in front of one Redis hash (half a minute). Admin changes delete the hash and publish an invalidation
 * that clears the local layer of every instance. Seat availability is never cached here.
 * Redis trouble degrades to reading the database, never to an error.
 */
@Component
public class CatalogCache implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(CatalogCache.class);
    static final String HASH = "catalog:cache";
    static final String CHANNEL = "catalog:invalidate";
    private static final Duration REDIS_TTL = Duration.ofSeconds(30);
    private static final Duration REDIS_TIMEOUT = Duration.ofMillis(300);

    private final AsyncCache<String, Object> local = Caffeine.newBuilder()
            .expireAfterWrite(Duration.ofSeconds(5))
            .maximumSize(10_000)
            .buildAsync();
    private final ReactiveStringRedisTemplate redis;
    private final ObjectMapper json;
    private final ChannelListener listener;

    public CatalogCache(ReactiveStringRedisTemplate redis, ObjectMapper json) {
        this.redis = redis;
        this.json = json;
        this.listener = new ChannelListener(redis, CHANNEL, message -> local.synchronous().invalidateAll());
    }

    /** Listens to its Redis channel while running (see {@link ChannelListener}). */
    @Override
    public void start() {
        listen();
    }

    void listen() {
        listener.start();
    }

    @Override
    public void stop() {
        listener.stop();
    }

    @Override
    public boolean isRunning() {
        return listener.isRunning();
    }

    public <T> Mono<T> get(String key, Class<T> type, Supplier<Mono<T>> loader) {
        return Mono.fromFuture(() -> local.get(key, (k, executor) -> fromRedisOrLoad(k, type, loader).map(v -> (Object) v).toFuture()))
                .map(type::cast);
    }

    private <T> Mono<T> fromRedisOrLoad(String key, Class<T> type, Supplier<Mono<T>> loader) {
        Mono<T> cached = redis.<String, String>opsForHash().get(HASH, key)
                .timeout(REDIS_TIMEOUT)
                .map(s -> json.readValue(s, type))
                .onErrorResume(e -> {
                    log.debug("catalog cache read failed for {}: {}", key, e.toString());
                    return Mono.empty();
                });
        return cached.switchIfEmpty(Mono.defer(loader).flatMap(value -> store(key, value).thenReturn(value)));
    }

    private Mono<Void> store(String key, Object value) {
        String serialized = json.writeValueAsString(value);
        return redis.<String, String>opsForHash().put(HASH, key, serialized)
                .then(redis.getExpire(HASH))
                .flatMap(ttl -> ttl.isNegative() || ttl.isZero() ? redis.expire(HASH, REDIS_TTL) : Mono.just(true))
                .timeout(REDIS_TIMEOUT)
                .onErrorResume(e -> Mono.empty())
                .then();
    }

    /** Called after an admin change commits: every instance drops its copies. */
    public Mono<Void> invalidateAll() {
        local.synchronous().invalidateAll();
        return redis.delete(HASH)
                .then(redis.convertAndSend(CHANNEL, "all"))
                .timeout(REDIS_TIMEOUT)
                .onErrorResume(e -> {
                    log.warn("catalog cache invalidation failed (entries expire within {}): {}", REDIS_TTL, e.toString());
                    return Mono.empty();
                })
                .then();
    }
}
