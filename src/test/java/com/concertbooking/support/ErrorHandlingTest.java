package com.concertbooking.support;

import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;

/** The framework's own errors are problem+json with a SPEC code, never a 500 or a stack trace. */
class ErrorHandlingTest extends IntegrationTest {

    @Test
    void unknownRoute() {
        expectProblem(web.get().uri("/api/v1/no-such-thing").exchange(), HttpStatus.NOT_FOUND, "NOT_FOUND");
        expectProblem(asUser(createUser(0)).get().uri("/api/v1/no-such-thing").exchange(), HttpStatus.NOT_FOUND, "NOT_FOUND");
    }

    @Test
    void wrongMethod() {
        expectProblem(web.delete().uri("/api/v1/concerts").exchange(), HttpStatus.METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
        web.delete().uri("/api/v1/concerts").exchange().expectHeader().value(org.springframework.http.HttpHeaders.ALLOW,
                allow -> assertThat(allow).contains("GET").contains("HEAD").doesNotContain("DELETE"));
    }

    @Test
    void malformedJson() {
        long user = createUser(0);
        expectProblem(asUser(user).patch().uri("/api/v1/users/{id}/charge", user).contentType(MediaType.APPLICATION_JSON).bodyValue("{\"amount\": 1,,}").exchange(),
                HttpStatus.BAD_REQUEST, "VALIDATION_FAILED");
    }

    @Test
    void wrongContentType() {
        long user = createUser(0);
        expectProblem(asUser(user).patch().uri("/api/v1/users/{id}/charge", user).contentType(MediaType.TEXT_PLAIN).bodyValue("amount=1").exchange(),
                HttpStatus.UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
    }

    @Test
    void nonNumericZeroNegativeAndOverflowingIds() {
        for (String id : new String[] {"abc", "0", "-5", "1.5", "92233720368547758070"}) {
            expectProblem(web.get().uri("/api/v1/concerts/" + id).exchange(), HttpStatus.BAD_REQUEST, "VALIDATION_FAILED");
        }
    }

    @Test
    void oversizedBody() {
        String big = "{\"amount\": 1, \"padding\": \"" + "x".repeat(200_000) + "\"}";
        expectProblem(web.patch().uri("/api/v1/users/1/charge").contentType(MediaType.APPLICATION_JSON).bodyValue(big).exchange(),
                HttpStatus.CONTENT_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    }

    private static void expectProblem(WebTestClient.ResponseSpec response, HttpStatus status, String code) {
        String body = response.expectStatus().isEqualTo(status)
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody()
                .jsonPath("$.code").isEqualTo(code)
                .jsonPath("$.status").isEqualTo(status.value())
                .jsonPath("$.title").isNotEmpty()
                .jsonPath("$.type").isNotEmpty()
                .jsonPath("$.detail").isNotEmpty()
                .returnResult().toString();
        assertThat(body).doesNotContain("Exception").doesNotContain("\tat ");
    }
}
