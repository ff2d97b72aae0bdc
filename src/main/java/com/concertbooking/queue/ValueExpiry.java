package com.concertbooking.queue;

import java.time.Duration;
import java.util.function.Function;

import com.github.benmanes.caffeine.cache.Expiry;

/** A Caffeine expiry chosen by the value written (e.g. "exists" kept long, "unknown" briefly); reads keep it. */
record ValueExpiry<K, V>(Function<V, Duration> lifetime) implements Expiry<K, V> {

    @Override
    public long expireAfterCreate(K key, V value, long now) {
        return lifetime.apply(value).toNanos();
    }

    @Override
    public long expireAfterUpdate(K key, V value, long now, long current) {
        return expireAfterCreate(key, value, now);
    }

    @Override
    public long expireAfterRead(K key, V value, long now, long current) {
        return current;
    }
}
