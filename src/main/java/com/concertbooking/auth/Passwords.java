package com.concertbooking.auth;

import org.springframework.security.crypto.factory.PasswordEncoderFactories;
import org.springframework.security.crypto.password.PasswordEncoder;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Password hashes (Spring Security's delegating encoder: {@code {bcrypt}...}, upgradable later) and the threads
 * that compute them. A bcrypt check costs tens of milliseconds of CPU, so it never runs on an event loop:
 * {@link #CRYPTO} has one thread per core, so a flood of logins queues there instead of starving request handling.
 */
@Component
public class Passwords {

    /** Hashing and token signing: CPU-bound work kept off the event loops. */
    public static final Scheduler CRYPTO = Schedulers.newBoundedElastic(
            Runtime.getRuntime().availableProcessors(), 10_000, "auth-crypto", 60, true);

    private final PasswordEncoder encoder = PasswordEncoderFactories.createDelegatingPasswordEncoder();
    /** Checked when the username is unknown, so a miss costs the same time as a wrong password. */
    private final String decoy = encoder.encode("decoy-" + System.nanoTime());

    public Mono<String> hash(String raw) {
        return Mono.fromCallable(() -> encoder.encode(raw)).subscribeOn(CRYPTO);
    }

    /** True only when {@code storedHash} exists and matches; the same work is done either way. */
    public Mono<Boolean> matches(String raw, String storedHash) {
        return Mono.fromCallable(() -> {
            try {
                boolean ok = encoder.matches(raw, storedHash != null ? storedHash : decoy);
                return ok && storedHash != null;
            } catch (IllegalArgumentException unreadableHash) {
                return false;
            }
        }).subscribeOn(CRYPTO);
    }
}
