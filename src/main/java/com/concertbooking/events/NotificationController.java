package com.concertbooking.events;

import java.time.Instant;

import com.concertbooking.support.ApiException;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;

/** {@code GET /api/v1/admin/notifications?userId=} (SPEC admin API); access: auth.SecurityConfig, operators only. */
@RestController
@RequestMapping("/api/v1/admin/notifications")
class NotificationController {

    /** Enough for any real user; keeps one response bounded. */
    static final int MAX_ITEMS = 1000;

    public record NotificationView(String eventId, String type, long userId, Long reservationId, Long paymentId,
                                   Instant createdAt) {}

    private final NotificationStore store;

    public NotificationController(NotificationStore store) {
        this.store = store;
    }

    /** The user's notifications, newest first; an unknown user simply has none. */
    @GetMapping
    public Flux<NotificationView> list(@RequestParam("userId") long userId) {
        if (userId <= 0) {
            return Flux.error(ApiException.validation("userId must be a positive id"));
        }
        return store.byUser(userId, MAX_ITEMS)
                .map(n -> new NotificationView(n.eventId(), n.type(), n.userId(), n.reservationId(), n.paymentId(), n.createdAt()));
    }
}
