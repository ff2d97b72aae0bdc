package com.concertbooking.auth;

import java.util.Map;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The served OpenAPI document carries the parameters' constraints although springdoc's copy of their schemas fails
 * (the logger quietened in application.yml): the failure costs nothing but the warning it printed.
 */
class OpenApiDocumentTest extends IntegrationTest {

    @Test
    void constrainedParametersKeepTheirBoundsInTheDocument() {
        Map<?, ?> doc = web.get().uri("/v3/api-docs").exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(doc.get("openapi")).isEqualTo("3.1.0");
        Map<?, ?> balance = parameter(doc, "/api/v1/users/{userId}/balance", "get", "userId");
        assertThat(balance.get("type")).isEqualTo("integer");
        assertThat(((Number) balance.get("exclusiveMinimum")).intValue()).isZero();
        Map<?, ?> size = parameter(doc, "/api/v1/concerts", "get", "size");
        assertThat(((Number) size.get("minimum")).intValue()).isEqualTo(1);
        assertThat(((Number) size.get("maximum")).intValue()).isEqualTo(100);
    }

    private static Map<?, ?> parameter(Map<?, ?> doc, String path, String method, String name) {
        var operation = (Map<?, ?>) ((Map<?, ?>) ((Map<?, ?>) doc.get("paths")).get(path)).get(method);
        return ((java.util.List<?>) operation.get("parameters")).stream().map(p -> (Map<?, ?>) p)
                .filter(p -> name.equals(p.get("name"))).map(p -> (Map<?, ?>) p.get("schema")).findFirst().orElseThrow();
    }
}
