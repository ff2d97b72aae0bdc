package com.concertbooking.auth;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;

/**
 * An ACTIVE queue token of the caller (SPEC 3: seats, holds, payments): the handler may let its user book seats of
 * {@link #concertId}, and nothing of another concert ({@link #requireConcert}, on the concert of the very date or
 * reservation it acts on).
 */
public record ActivePass(long userId, long concertId, String entryId) implements PaymentPass {

    /** 403 FORBIDDEN unless the thing acted on belongs to this pass's concert. */
    public void requireConcert(long actedOnConcertId) {
        if (actedOnConcertId != concertId) {
            throw new ApiException(ErrorCode.FORBIDDEN, "The queue token is for another concert");
        }
    }
}
