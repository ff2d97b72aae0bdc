package com.concertbooking.auth;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

import com.concertbooking.support.ApiException;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;

/**
 * SPEC 11: logins are throttled per username (failed attempts) and per client address (all attempts), each in a
 * fixed window, in Redis so that every instance counts the same attempts. Each counter is one key with its own
 * hash tag and one atomic script (increment, and start the window on the first hit), so it runs on Redis Cluster.
 * Over the limit is 429 with {@code Retry-After} until the window ends; the answer is the same whether or not the
 * username exists.
 */
@Component
class LoginThrottle {

    static final Duration TIMEOUT = Duration.ofSeconds(2);
    @SuppressWarnings("rawtypes")
    private static final RedisScript<List> HIT = RedisScript.of("""
            local n = redis.call('INCR', KEYS[1])
            if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
            return {n, redis.call('PTTL', KEYS[1])}
            """, List.class);

    private final ReactiveStringRedisTemplate redis;
    private final AuthProperties.Login settings;

    LoginThrottle(ReactiveStringRedisTemplate redis, AuthProperties properties) {
        this.redis = redis;
        this.settings = properties.login();
    }

    /** Counts this attempt from {@code address}; 429 when that address, or this username's failures, are over the limit. */
    Mono<Void> admit(String username, String address) {
        Mono<Void> byAddress = hit(addressKey(address)).flatMap(c -> c.count() > settings.maxAttemptsPerAddress()
                ? Mono.error(tooMany(c.remainingMillis())) : Mono.empty());
        Mono<Void> byUser = redis.opsForValue().get(userKey(username)).zipWith(redis.getExpire(userKey(username)).defaultIfEmpty(Duration.ZERO))
                .timeout(TIMEOUT)
                .flatMap(t -> Long.parseLong(t.getT1()) >= settings.maxFailuresPerUsername()
                        ? Mono.error(tooMany(t.getT2().toMillis())) : Mono.<Void>empty());
        return byAddress.then(byUser);
    }

    Mono<Void> failed(String username) {
        return hit(userKey(username)).then();
    }

    Mono<Void> succeeded(String username) {
        return redis.delete(userKey(username)).timeout(TIMEOUT).then();
    }

    private record Count(long count, long remainingMillis) {}

    private Mono<Count> hit(String key) {
        return redis.execute(HIT, List.of(key), List.of(Long.toString(settings.window().toMillis())))
                .next().timeout(TIMEOUT)
                .map(r -> new Count(((Number) r.get(0)).longValue(), ((Number) r.get(1)).longValue()));
    }

    private ApiException tooMany(long remainingMillis) {
        Duration retry = Duration.ofMillis(remainingMillis > 0 ? remainingMillis : settings.window().toMillis());
        return ApiException.tooManyRequests("Too many sign-in attempts; try again in " + Math.max(1, retry.toSeconds()) + " s", retry);
    }

    private static String userKey(String username) {
        // Hex keeps any typed name inside its hash tag; lower case as the unique index compares names.
        return "auth:login:{user:" + HexFormat.of().formatHex(username.toLowerCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8)) + "}";
    }

    private static String addressKey(String address) {
        return "auth:login:{addr:" + address + "}";
    }
}
