package com.concertbooking.support;

import java.util.List;
import java.util.Map;

import com.concertbooking.auth.AccessRules;
import com.concertbooking.auth.SecurityConfig;
import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;

@Configuration(proxyBeanMethods = false)
class OpenApiConfig {

    static final String ACCESS_TOKEN = "accessToken", QUEUE_TOKEN = "queueToken", ADMIN_KEY = "adminKey";

    @Bean
    OpenAPI bookingOpenApi() {
        return new OpenAPI()
                .info(new Info().title("Concert booking service").version("v1")
                        .description("Waiting queue, seat holds, payments from a balance. Errors are application/problem+json with a stable `code`."))
                .components(new Components()
                        .addSecuritySchemes(ACCESS_TOKEN, new SecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer").bearerFormat("JWT")
                                .description("Access token: POST /api/v1/auth/login (development issuer) or your identity provider"))
                        .addSecuritySchemes(QUEUE_TOKEN, new SecurityScheme().type(SecurityScheme.Type.APIKEY).in(SecurityScheme.In.HEADER)
                                .name("Queue-Token").description("Queue token from POST /api/v1/queues/token"))
                        .addSecuritySchemes(ADMIN_KEY, new SecurityScheme().type(SecurityScheme.Type.APIKEY).in(SecurityScheme.In.HEADER)
                                .name(SecurityConfig.ADMIN_KEY_HEADER)));
    }

    /** Each operation's security, read from the one route table, so the document says what the service enforces. */
    @Bean
    OpenApiCustomizer securityFromAccessRules() {
        return openApi -> openApi.getPaths().forEach((path, item) -> operations(item).forEach((method, operation) ->
                AccessRules.match(method, path).ifPresent(match -> {
                    var rule = match.rule();
                    operation.setSecurity(switch (rule.access()) {
                        case PUBLIC -> List.of(); // the stream's queue token is its ?token= parameter
                        case USER -> List.of(rule.queue() == AccessRules.QueueNeed.LIVE || rule.queue() == AccessRules.QueueNeed.ACTIVE
                                ? new SecurityRequirement().addList(ACCESS_TOKEN).addList(QUEUE_TOKEN)
                                : new SecurityRequirement().addList(ACCESS_TOKEN));
                        case ADMIN -> List.of(new SecurityRequirement().addList(ADMIN_KEY), new SecurityRequirement().addList(ACCESS_TOKEN));
                    });
                })));
    }

    private static Map<HttpMethod, io.swagger.v3.oas.models.Operation> operations(PathItem item) {
        var all = new java.util.LinkedHashMap<HttpMethod, io.swagger.v3.oas.models.Operation>();
        item.readOperationsMap().forEach((m, op) -> all.put(HttpMethod.valueOf(m.name()), op));
        return all;
    }
}
