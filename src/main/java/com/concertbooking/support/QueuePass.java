package com.concertbooking.support;

import java.util.Optional;

import org.springframework.web.server.ServerWebExchange;

/**
 * The verified queue token of a request, put on the exchange by the queue's token guard.
 * Handlers use it to reject another user's ids or another concert's dates with 403 FORBIDDEN.
 */
public record QueuePass(long userId, long concertId, String entryId, Status status) {

    public enum Status { WAITING, ACTIVE, ENDED }

    public static final String ATTRIBUTE = QueuePass.class.getName();

    public static Optional<QueuePass> of(ServerWebExchange exchange) {
        return Optional.ofNullable(exchange.getAttribute(ATTRIBUTE));
    }

    public void put(ServerWebExchange exchange) {
        exchange.getAttributes().put(ATTRIBUTE, this);
    }

    /** 403 FORBIDDEN unless the request names the token's own user. */
    public void requireUser(long requestedUserId) {
        if (requestedUserId != userId) {
            throw new ApiException(ErrorCode.FORBIDDEN, "The token belongs to another user");
        }
    }

    /** 403 FORBIDDEN unless the request is about the token's concert. */
    public void requireConcert(long requestedConcertId) {
        if (requestedConcertId != concertId) {
            throw new ApiException(ErrorCode.FORBIDDEN, "The token is for another concert");
        }
    }
}
