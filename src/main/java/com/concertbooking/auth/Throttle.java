package com.concertbooking.auth;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.LuaScript;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * SPEC 11's throttles, counted in Redis so that every instance counts the same attempts: sign-in attempts per
 * client address and per account, and wrong admin keys per client address, each in a fixed window. Each counter is
 * one key with its own hash tag and one atomic script (increment, and start the window on the first hit), so it runs
 * on Redis Cluster. An attempt is counted first and checked after ("count, then check"), so parallel attempts stop
 * at the limit instead of all reading a count below it. Over the limit is 429 with {@code Retry-After} until the
 * window ends.
 */
@Component
class Throttle {

    static final Duration TIMEOUT = Duration.ofSeconds(2);
    @SuppressWarnings("rawtypes")
    private static final RedisScript<List> HIT = new LuaScript<>("""
            local n = redis.call('INCR', KEYS[1])
            if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
            return {n, redis.call('PTTL', KEYS[1])}
            """, List.class);

    private final ReactiveStringRedisTemplate redis;
    private final AuthProperties.Login login;
    private final AdminProperties adminKey;

    Throttle(ReactiveStringRedisTemplate redis, AuthProperties properties, AdminProperties adminKey) {
        this.redis = redis;
        this.login = properties.login();
        this.adminKey = adminKey;
    }

    /** Counts a sign-in attempt from this client address; 429 when the address is over its limit. */
    Mono<Void> signInFrom(String address) {
        return count("auth:login:{addr:" + address + "}", login.maxAttemptsPerAddress(), login.window(), "sign-in attempts");
    }

    /**
     * Counts a sign-in attempt on this account (see {@link #account}); 429 when it is over its limit. The count ends
     * with a successful sign-in ({@link #signedIn}).
     */
    Mono<Void> signInTo(String account) {
        return count(accountKey(account), login.maxFailuresPerUsername(), login.window(), "sign-in attempts");
    }

    Mono<Void> signedIn(String account) {
        return redis.delete(accountKey(account)).timeout(TIMEOUT).then();
    }

    /**
     * The counter of one account however its name was written: the user id of an existing account, else the
     * lower-cased name (names are ASCII by their pattern, and unique without regard to case).
     */
    static String account(Long userId, String username) {
        return userId != null ? "user:" + userId : "name:" + username.toLowerCase(Locale.ROOT);
    }

    /** A wrong admin key from {@code address}: counted; 429 once the address is over its limit. */
    Mono<Void> wrongAdminKey(String address) {
        return count(adminKeyKey(address), adminKey.maxFailuresPerAddress(), adminKey.failureWindow(), "wrong admin keys");
    }

    /** 429 while {@code address} is over its limit of wrong admin keys (a right key waits too, like a right password). */
    Mono<Void> adminKeyAllowed(String address) {
        return redis.opsForValue().get(adminKeyKey(address)).zipWith(redis.getExpire(adminKeyKey(address)).defaultIfEmpty(Duration.ZERO))
                .timeout(TIMEOUT)
                .flatMap(t -> Long.parseLong(t.getT1()) >= adminKey.maxFailuresPerAddress()
                        ? Mono.error(tooMany(t.getT2().toMillis(), adminKey.failureWindow(), "wrong admin keys")) : Mono.<Void>empty());
    }

    /** The client's address (behind a proxy, set server.forward-headers-strategy so that this is the real one). */
    static String clientAddress(ServerWebExchange exchange) {
        InetSocketAddress remote = exchange.getRequest().getRemoteAddress();
        return remote == null || remote.getAddress() == null ? "unknown" : remote.getAddress().getHostAddress();
    }

    private Mono<Void> count(String key, int max, Duration window, String what) {
        return redis.execute(HIT, List.of(key), List.of(Long.toString(window.toMillis())))
                .next().timeout(TIMEOUT)
                .flatMap(r -> ((Number) r.get(0)).longValue() > max
                        ? Mono.error(tooMany(((Number) r.get(1)).longValue(), window, what)) : Mono.<Void>empty());
    }

    private static ApiException tooMany(long remainingMillis, Duration window, String what) {
        Duration retry = Duration.ofMillis(remainingMillis > 0 ? remainingMillis : window.toMillis());
        return ApiException.tooManyRequests("Too many " + what + "; try again in " + Math.max(1, retry.toSeconds()) + " s", retry);
    }

    private static String accountKey(String account) {
        return "auth:login:{" + account + "}";
    }

    private static String adminKeyKey(String address) {
        return "auth:admin-key:{addr:" + address + "}";
    }
}
