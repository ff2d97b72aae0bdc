package com.concertbooking.support;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.blockhound.BlockingOperationError;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OperationsTest extends IntegrationTest {

    @Test
    void livenessAndReadinessIncludeDatabaseAndRedis() {
        web.get().uri("/actuator/health/liveness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP");
        // Public probes say UP or DOWN only; an operator sees what readiness is made of.
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP").jsonPath("$.components").doesNotExist();
        asAdmin().get().uri("/actuator/health").exchange().expectStatus().isOk()
                .expectBody()
                .jsonPath("$.status").isEqualTo("UP")
                .jsonPath("$.components.r2dbc.status").isEqualTo("UP")
                .jsonPath("$.components.redis.status").isEqualTo("UP");
    }

    @Test
    void openApiDocumentDescribesTheApi() {
        web.get().uri("/v3/api-docs").exchange().expectStatus().isOk()
                .expectBody()
                .jsonPath("$.openapi").isNotEmpty()
                .jsonPath("$.paths['/api/v1/concerts']").exists()
                .jsonPath("$.paths['/api/v1/users/{userId}/charge']").exists();
    }

    @Test
    void prometheusMetricsAreExposed() {
        assertThat(prometheusScrape()).contains("r2dbc_pool").contains("http_server_requests");
    }

    /** Proves the guard rail itself: blocking on a non-blocking thread is caught. */
    @Test
    void blockHoundCatchesBlockingOnNonBlockingThreads() {
        Mono<Void> sleeper = Mono.<Void>fromRunnable(() -> {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }).subscribeOn(Schedulers.parallel());
        assertThatThrownBy(() -> sleeper.block(Duration.ofSeconds(5))).hasCauseInstanceOf(BlockingOperationError.class);
        assertThat(NoBlockingOnEventLoops.drainViolations()).anyMatch(v -> v.contains("sleep"));
    }
}
