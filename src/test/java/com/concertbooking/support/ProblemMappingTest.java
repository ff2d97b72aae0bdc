package com.concertbooking.support;

import java.util.concurrent.TimeoutException;

import io.r2dbc.spi.R2dbcTimeoutException;
import org.junit.jupiter.api.Test;
import org.springframework.dao.QueryTimeoutException;
import org.springframework.data.redis.RedisConnectionFailureException;

import static org.assertj.core.api.Assertions.assertThat;

/** Overloaded or unreachable dependencies are 503 DEPENDENCY_UNAVAILABLE (with Retry-After), never 500. */
class ProblemMappingTest {

    @Test
    void dependencyFailuresAre503() {
        // What r2dbc-pool raises when no connection frees up within max-acquire-time (database overload).
        var poolExhausted = new R2dbcTimeoutException("Connection acquisition timed out", new TimeoutException());
        assertThat(ProblemExceptionHandler.toProblem(poolExhausted).code()).isEqualTo(ErrorCode.DEPENDENCY_UNAVAILABLE);
        assertThat(ProblemExceptionHandler.toProblem(new QueryTimeoutException("slow")).code()).isEqualTo(ErrorCode.DEPENDENCY_UNAVAILABLE);
        assertThat(ProblemExceptionHandler.toProblem(new RedisConnectionFailureException("down")).code()).isEqualTo(ErrorCode.DEPENDENCY_UNAVAILABLE);
        assertThat(ProblemExceptionHandler.toProblem(new RuntimeException(new TimeoutException())).code()).isEqualTo(ErrorCode.DEPENDENCY_UNAVAILABLE);
        // A hold or payment while MariaDB restarts (issue 20's db-restart bench saw these as 500s): the transaction
        // manager cannot open a connection because the server refuses it.
        var refused = new org.springframework.transaction.CannotCreateTransactionException("Could not open R2DBC Connection for transaction",
                new java.net.ConnectException("finishConnect(..) failed with error(-111): Connection refused"));
        assertThat(ProblemExceptionHandler.toProblem(refused).code()).isEqualTo(ErrorCode.DEPENDENCY_UNAVAILABLE);
        assertThat(ProblemExceptionHandler.dependencyOf(refused)).isEqualTo("database");
    }

    @Test
    void dependencyFailuresAreCountedByTheDependencyThatFailed() {
        // The alerts of docs/incident-response.md tell a database outage from a Redis one by this label.
        assertThat(ProblemExceptionHandler.dependencyOf(new R2dbcTimeoutException("Connection acquisition timed out", new TimeoutException())))
                .isEqualTo("database");
        assertThat(ProblemExceptionHandler.dependencyOf(new org.springframework.dao.DataAccessResourceFailureException("closed")))
                .isEqualTo("database");
        assertThat(ProblemExceptionHandler.dependencyOf(new RedisConnectionFailureException("down"))).isEqualTo("redis");
        // Spring Data Redis turns a Lettuce command timeout into the generic QueryTimeoutException: still Redis.
        assertThat(ProblemExceptionHandler.dependencyOf(new QueryTimeoutException("slow",
                new io.lettuce.core.RedisCommandTimeoutException("Command timed out")))).isEqualTo("redis");
        assertThat(ProblemExceptionHandler.dependencyOf(new RuntimeException(new TimeoutException()))).isEqualTo("other");
    }

    @Test
    void unknownFailuresAre500WithoutDetails() {
        var problem = ProblemExceptionHandler.toProblem(new IllegalStateException("secret internals"));
        assertThat(problem.code()).isEqualTo(ErrorCode.INTERNAL_ERROR);
        assertThat(problem.detail()).doesNotContain("secret");
    }
}
