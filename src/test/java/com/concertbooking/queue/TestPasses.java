package com.concertbooking.queue;

import java.time.Instant;

/**
 * Verified queue tokens without Redis, for route slices that stub {@link QueueService#verify}: the token text
 * {@code pass-<user>-<concert>-<WAITING|ACTIVE|GONE>} verifies as that user's entry of that concert in that state;
 * anything else is TOKEN_INVALID as a forged token would be.
 */
public final class TestPasses {

    private TestPasses() {}

    public static String token(long userId, long concertId, String state) {
        return "pass-" + userId + "-" + concertId + "-" + state;
    }

    public static reactor.core.publisher.Mono<QueueService.Verified> verify(String token) {
        String[] parts = token.split("-");
        if (parts.length != 4 || !parts[0].equals("pass")) {
            return reactor.core.publisher.Mono.error(new com.concertbooking.support.ApiException(
                    com.concertbooking.support.ErrorCode.TOKEN_INVALID, "The queue token is invalid"));
        }
        long user = Long.parseLong(parts[1]);
        long concert = Long.parseLong(parts[2]);
        QueueStore.Kind kind = QueueStore.Kind.valueOf(parts[3]);
        var state = new QueueStore.EntryState(kind, kind == QueueStore.Kind.WAITING ? 1 : 0,
                kind == QueueStore.Kind.ACTIVE ? Instant.now().plusSeconds(600) : null);
        var conditions = new QueueStore.Conditions(1, 10, 0, Instant.now(), null, null, false);
        return reactor.core.publisher.Mono.just(new QueueService.Verified(new TokenCodec.Claims(user, concert, "entry-" + user), state,
                conditions, () -> QueueService.ticket(token, null, user, concert, state, conditions, 0L, null)));
    }
}
