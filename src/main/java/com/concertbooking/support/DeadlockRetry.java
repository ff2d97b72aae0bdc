package com.concertbooking.support;

import java.time.Duration;

import org.springframework.dao.PessimisticLockingFailureException;
import reactor.util.retry.Retry;

/**
 * InnoDB may pick a short transaction as a deadlock victim and roll it back whole; running it again is
 * safe and is what the client would do anyway. Apply outside {@code TransactionalOperator::transactional}
 * so every attempt is a fresh transaction.
 */
public final class DeadlockRetry {

    private DeadlockRetry() {}

    public static Retry backoff() {
        return Retry.backoff(3, Duration.ofMillis(5)).jitter(0.5).filter(DeadlockRetry::isDeadlock)
                .onRetryExhaustedThrow((s, signal) -> signal.failure());
    }

    static boolean isDeadlock(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof PessimisticLockingFailureException) {
                return true;
            }
            if (t instanceof io.r2dbc.spi.R2dbcException r && r.getErrorCode() == 1213) {
                return true;
            }
        }
        return false;
    }
}
