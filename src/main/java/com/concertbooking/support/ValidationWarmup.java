package com.concertbooking.support;

import jakarta.validation.Validator;
import jakarta.validation.constraints.NotNull;
import org.springframework.boot.context.event.ApplicationStartedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Hibernate Validator reads its message bundle from the jar the first time a constraint fails.
 * Doing that once at start-up keeps the file read off the event loop (BlockHound caught it there).
 */
@Component
class ValidationWarmup {

    private final Validator validator;

    ValidationWarmup(Validator validator) {
        this.validator = validator;
    }

    record Probe(@NotNull Object value) {}

    @EventListener(ApplicationStartedEvent.class)
    void loadMessageBundles() {
        validator.validate(new Probe(null)).forEach(v -> v.getMessage());
    }
}
