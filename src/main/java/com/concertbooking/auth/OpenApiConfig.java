package com.concertbooking.auth;

import java.util.Arrays;
import java.util.List;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springdoc.core.customizers.OperationCustomizer;
import org.springdoc.core.utils.SpringDocUtils;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.MethodParameter;
import org.springframework.util.AntPathMatcher;

/**
 * The OpenAPI document's security, read from what enforces it: a handler that takes a {@link Caller} needs an
 * access token, one that takes a {@link QueuePass} a queue token too, and the operator paths of
 * {@link SecurityConfig} the admin key or an admin token. Caller and passes are no request parameters.
 */
@Configuration(proxyBeanMethods = false)
class OpenApiConfig {

    static final String ACCESS_TOKEN = "accessToken", QUEUE_TOKEN = "queueToken", ADMIN_KEY = "adminKey";

    static {
        SpringDocUtils.getConfig().addRequestWrapperToIgnore(Caller.class, QueuePass.class);
    }

    @Bean
    OpenAPI bookingOpenApi() {
        return new OpenAPI()
                .info(new Info().title("Concert booking service").version("v1")
                        .description("Waiting queue, seat holds, payments from a balance. Errors are application/problem+json with a stable `code`."))
                .components(new Components()
                        .addSecuritySchemes(ACCESS_TOKEN, new SecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer").bearerFormat("JWT")
                                .description("Access token: POST /api/v1/auth/login (development issuer) or your identity provider"))
                        .addSecuritySchemes(QUEUE_TOKEN, new SecurityScheme().type(SecurityScheme.Type.APIKEY).in(SecurityScheme.In.HEADER)
                                .name(QueuePass.HEADER).description("Queue token from POST /api/v1/queues/token"))
                        .addSecuritySchemes(ADMIN_KEY, new SecurityScheme().type(SecurityScheme.Type.APIKEY).in(SecurityScheme.In.HEADER)
                                .name(SecurityConfig.ADMIN_KEY_HEADER)));
    }

    /** A fan's operation: from its handler's signature (a queue pass is worthless without its user's access token). */
    @Bean
    OperationCustomizer securityFromSignatures() {
        return (operation, handler) -> {
            boolean caller = takes(handler.getMethodParameters(), Caller.class);
            boolean pass = takes(handler.getMethodParameters(), QueuePass.class);
            if (caller || pass) {
                operation.setSecurity(List.of(pass ? new SecurityRequirement().addList(ACCESS_TOKEN).addList(QUEUE_TOKEN)
                        : new SecurityRequirement().addList(ACCESS_TOKEN)));
            }
            // An Optional pass is no request parameter either (the ignore list above sees through no Optional).
            if (operation.getParameters() != null) {
                Arrays.stream(handler.getMethodParameters())
                        .filter(p -> QueuePass.class.isAssignableFrom(p.nestedIfOptional().getNestedParameterType()))
                        .map(p -> p.getParameterName())
                        .forEach(name -> operation.getParameters().removeIf(parameter -> parameter.getName().equals(name)));
                if (operation.getParameters().isEmpty()) {
                    operation.setParameters(null);
                }
            }
            return operation;
        };
    }

    /** An operator's operation: from the operator paths of the route rules; everything else is public. */
    @Bean
    OpenApiCustomizer operatorSecurity() {
        AntPathMatcher paths = new AntPathMatcher();
        return openApi -> openApi.getPaths().forEach((path, item) -> item.readOperations().forEach(operation -> {
            if (Arrays.stream(SecurityConfig.OPERATOR_PATHS).anyMatch(pattern -> paths.match(pattern, path))) {
                operation.setSecurity(List.of(new SecurityRequirement().addList(ADMIN_KEY), new SecurityRequirement().addList(ACCESS_TOKEN)));
            } else if (operation.getSecurity() == null) {
                operation.setSecurity(List.of());
            }
        }));
    }

    private static boolean takes(MethodParameter[] parameters, Class<?> type) {
        return Arrays.stream(parameters).anyMatch(p -> type.isAssignableFrom(p.nestedIfOptional().getNestedParameterType()));
    }
}
