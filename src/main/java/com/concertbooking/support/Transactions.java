package com.concertbooking.support;

import java.time.Duration;

import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.reactive.TransactionalOperator;
import org.springframework.transaction.support.DefaultTransactionDefinition;

/**
 * READ COMMITTED for the booking and outbox transactions: every statement in them is a locking read or a
 * conditional write (none relies on a snapshot). Under READ COMMITTED InnoDB releases the lock of a row
 * that does not match an UPDATE's WHERE at once and takes no gap locks; under the default REPEATABLE READ
 * the 999 losers of a seat each kept the row locked until their rollback, queueing one behind another.
 */
public final class Transactions {

    private Transactions() {}

    public static TransactionalOperator readCommitted(ReactiveTransactionManager transactionManager) {
        return TransactionalOperator.create(transactionManager, readCommittedDefinition());
    }

    public static TransactionalOperator readCommitted(ReactiveTransactionManager transactionManager, Duration timeout) {
        DefaultTransactionDefinition definition = readCommittedDefinition();
        definition.setTimeout((int) timeout.toSeconds());
        return TransactionalOperator.create(transactionManager, definition);
    }

    private static DefaultTransactionDefinition readCommittedDefinition() {
        DefaultTransactionDefinition definition = new DefaultTransactionDefinition();
        definition.setIsolationLevel(TransactionDefinition.ISOLATION_READ_COMMITTED);
        return definition;
    }
}
