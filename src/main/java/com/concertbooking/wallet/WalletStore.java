package com.concertbooking.wallet;

import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;
import reactor.core.publisher.Mono;

/**
 * Balances. Every change is one conditional UPDATE: the row lock serialises concurrent writers, the
 * arithmetic happens in the database, and the WHERE clause keeps the balance within its limits, so
 * no update is ever lost and no balance goes negative (measured against alternatives in docs/concurrency.md).
 */
@Repository
public class WalletStore {

    public static final long MAX_BALANCE = 1_000_000_000L;

    private final DatabaseClient db;

    public WalletStore(DatabaseClient db) {
        this.db = db;
    }

    public Mono<Long> balance(long userId) {
        return db.sql("SELECT balance FROM users WHERE id = :id").bind("id", userId)
                .map(r -> r.get("balance", Long.class)).one();
    }

    /** @return rows changed: 0 when the user is missing or the limit would be passed. */
    public Mono<Long> credit(long userId, long amount) {
        return db.sql("UPDATE users SET balance = balance + :amount, version = version + 1 WHERE id = :id AND balance <= :max - :amount")
                .bind("amount", amount).bind("id", userId).bind("max", MAX_BALANCE)
                .fetch().rowsUpdated();
    }

    /** @return rows changed: 0 when the user is missing or the balance is too small. */
    public Mono<Long> debit(long userId, long amount) {
        return db.sql("UPDATE users SET balance = balance - :amount, version = version + 1 WHERE id = :id AND balance >= :amount")
                .bind("amount", amount).bind("id", userId)
                .fetch().rowsUpdated();
    }

    /**
     * A new user; {@code passwordHash} null means no password login. A taken username (compared without case)
     * fails with Spring's {@code DuplicateKeyException}.
     */
    public Mono<Long> createUser(String username, String passwordHash, long balance) {
        return db.sql("INSERT INTO users (username, password_hash, balance) VALUES (:username, :hash, :balance)")
                .bind("username", username).bind("balance", balance)
                .bind("hash", io.r2dbc.spi.Parameters.in(io.r2dbc.spi.R2dbcType.VARCHAR, passwordHash))
                .filter(s -> s.returnGeneratedValues("id"))
                .map(r -> r.get("id", Long.class)).one();
    }

    /** Sets a user's password hash (demo data); false when the user does not exist. */
    public Mono<Boolean> setPasswordHash(String username, String passwordHash) {
        return db.sql("UPDATE users SET password_hash = :hash WHERE username = :username")
                .bind("hash", passwordHash).bind("username", username)
                .fetch().rowsUpdated().map(n -> n > 0);
    }
}
