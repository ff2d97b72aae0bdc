package com.concertbooking.support;

import java.time.Duration;

import org.springframework.dao.PessimisticLockingFailureException;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.reactive.TransactionalOperator;
import org.springframework.transaction.support.DefaultTransactionDefinition;
import reactor.util.retry.Retry;

/**
 * InnoDB may pick a short transaction as a deadlock victim and roll it back whole; running it again is
 * safe and is what the client would do anyway. Apply outside {@code TransactionalOperator::transactional}
 * so every attempt is a fresh transaction.
 */
public final class DeadlockRetry {

    private DeadlockRetry() {}

    /**
     * READ COMMITTED for the booking transactions: every statement in them is a locking read or a conditional
     * write (none relies on a snapshot), and under READ COMMITTED InnoDB releases the lock of a row that does
     * not match an UPDATE's WHERE at once. Under the default REPEATABLE READ the 999 losers of a seat each
     * kept the row locked until their rollback, queueing one behind another.
     */
    public static TransactionalOperator readCommitted(ReactiveTransactionManager transactionManager) {
        DefaultTransactionDefinition definition = new DefaultTransactionDefinition();
        definition.setIsolationLevel(TransactionDefinition.ISOLATION_READ_COMMITTED);
        return TransactionalOperator.create(transactionManager, definition);
    }

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
