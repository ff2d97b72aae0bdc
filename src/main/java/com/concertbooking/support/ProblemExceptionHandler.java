package com.concertbooking.support;

import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.R2dbcTransientResourceException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.TypeMismatchException;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.core.annotation.Order;
import org.springframework.core.codec.DecodingException;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.QueryTimeoutException;
import org.springframework.dao.TransientDataAccessResourceException;
import org.springframework.data.redis.RedisConnectionFailureException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.validation.FieldError;
import org.springframework.web.bind.support.WebExchangeBindException;
import org.springframework.web.method.annotation.HandlerMethodValidationException;
import org.springframework.web.server.MethodNotAllowedException;
import org.springframework.web.server.MissingRequestValueException;
import org.springframework.web.server.NotAcceptableStatusException;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;
import org.springframework.web.server.UnsupportedMediaTypeStatusException;
import org.springframework.web.server.WebExceptionHandler;
import reactor.core.publisher.Mono;
import tools.jackson.databind.ObjectMapper;

/**
 * Turns every failure, ours and the framework's (unknown route, wrong method, malformed JSON, wrong
 * content type, bad ids, oversized body), into an RFC 9457 problem+json body with a stable {@code code}.
 * It runs before Spring Boot's default handler, so no stack trace or HTML page ever reaches a client.
 */
@Component
@Order(-2)
class ProblemExceptionHandler implements WebExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ProblemExceptionHandler.class);
    public static final MediaType PROBLEM_JSON = MediaType.APPLICATION_PROBLEM_JSON;

    private final ObjectMapper json;
    private final Map<String, Counter> unavailable = new java.util.HashMap<>();

    /** The meter registry is optional: web slice tests ({@code @WebFluxTest}) have none. */
    public ProblemExceptionHandler(ObjectMapper json, ObjectProvider<MeterRegistry> registry) {
        this.json = json;
        MeterRegistry meters = registry.getIfAvailable(io.micrometer.core.instrument.simple.SimpleMeterRegistry::new);
        // Registered up front (at 0), so the alert rules' series exist before the first failure.
        for (String dependency : java.util.List.of("database", "redis", "other")) {
            unavailable.put(dependency, Counter.builder("booking.dependency.unavailable").tag("dependency", dependency)
                    .description("Requests answered 503 DEPENDENCY_UNAVAILABLE, by the dependency that failed").register(meters));
        }
    }

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable ex) {
        var response = exchange.getResponse();
        if (response.isCommitted()) {
            return Mono.error(ex); // e.g. an SSE stream that already started: nothing left to say
        }
        Problem problem = toProblem(ex);
        if (problem.code() == ErrorCode.INTERNAL_ERROR) {
            log.error("Unhandled error on {} {}", exchange.getRequest().getMethod(), exchange.getRequest().getPath(), ex);
        } else if (problem.code() == ErrorCode.DEPENDENCY_UNAVAILABLE) {
            log.warn("Dependency unavailable on {}: {}", exchange.getRequest().getPath(), ex.toString());
            unavailable.get(dependencyOf(ex)).increment();
            response.getHeaders().set(HttpHeaders.RETRY_AFTER, "2");
        }
        if (ex instanceof ApiException api && api.retryAfter() != null) {
            response.getHeaders().set(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, (api.retryAfter().toMillis() + 999) / 1000)));
        } else if (problem.code() == ErrorCode.TOO_MANY_REQUESTS) {
            response.getHeaders().set(HttpHeaders.RETRY_AFTER, "1");
        }
        if (ex instanceof MethodNotAllowedException mna && !mna.getSupportedMethods().isEmpty()) {
            // WebFlux serves HEAD wherever it serves GET, but names only GET.
            var allowed = new java.util.LinkedHashSet<>(mna.getSupportedMethods());
            if (allowed.contains(org.springframework.http.HttpMethod.GET)) {
                allowed.add(org.springframework.http.HttpMethod.HEAD);
            }
            response.getHeaders().setAllow(allowed);
        }
        response.setStatusCode(problem.code().status());
        response.getHeaders().setContentType(PROBLEM_JSON);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", URI.create("https://booking.example/problems/" + problem.code().name().toLowerCase().replace('_', '-')).toString());
        body.put("title", problem.code().title());
        body.put("status", problem.code().status().value());
        body.put("detail", problem.detail());
        body.put("instance", exchange.getRequest().getPath().value());
        body.put("code", problem.code().name());
        if (ex instanceof ApiException api) {
            api.properties().forEach(body::putIfAbsent);
        }
        byte[] bytes = json.writeValueAsBytes(body);
        DataBuffer buffer = response.bufferFactory().wrap(bytes);
        return response.writeWith(Mono.just(buffer));
    }

    record Problem(ErrorCode code, String detail) {}

    static Problem toProblem(Throwable ex) {
        if (ex instanceof ApiException api) {
            return new Problem(api.code(), api.getMessage());
        }
        if (causedBy(ex, DataBufferLimitException.class)) {
            return new Problem(ErrorCode.PAYLOAD_TOO_LARGE, "Request body is too large");
        }
        if (ex instanceof WebExchangeBindException bind) {
            String detail = bind.getFieldErrors().stream()
                    .map(ProblemExceptionHandler::describe)
                    .sorted()
                    .collect(Collectors.joining("; "));
            return new Problem(ErrorCode.VALIDATION_FAILED, detail.isEmpty() ? "Invalid request" : detail);
        }
        if (ex instanceof HandlerMethodValidationException hmv) {
            String detail = hmv.getParameterValidationResults().stream()
                    .flatMap(r -> r.getResolvableErrors().stream().map(e -> (e instanceof FieldError fe ? fe.getField()
                            : r.getMethodParameter().getParameterName()) + ": " + e.getDefaultMessage()))
                    .sorted()
                    .collect(Collectors.joining("; "));
            return new Problem(ErrorCode.VALIDATION_FAILED, detail.isEmpty() ? "Invalid request" : detail);
        }
        if (ex instanceof jakarta.validation.ConstraintViolationException cve) {
            String detail = cve.getConstraintViolations().stream()
                    .map(v -> v.getPropertyPath() + ": " + v.getMessage()).sorted().collect(Collectors.joining("; "));
            return new Problem(ErrorCode.VALIDATION_FAILED, detail);
        }
        if (ex instanceof UnsupportedMediaTypeStatusException) {
            return new Problem(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content type not supported; send application/json");
        }
        if (ex instanceof MethodNotAllowedException mna) {
            return new Problem(ErrorCode.METHOD_NOT_ALLOWED, "Method " + mna.getHttpMethod() + " is not allowed here");
        }
        if (ex instanceof NotAcceptableStatusException) {
            return new Problem(ErrorCode.NOT_ACCEPTABLE, "No acceptable representation");
        }
        if (ex instanceof MissingRequestValueException missing) {
            return new Problem(ErrorCode.VALIDATION_FAILED, "Missing " + missing.getLabel() + " '" + missing.getName() + "'");
        }
        if (ex instanceof ServerWebInputException input) {
            TypeMismatchException mismatch = cause(ex, TypeMismatchException.class);
            if (mismatch != null) {
                String name = mismatch.getPropertyName() != null ? mismatch.getPropertyName()
                        : input.getMethodParameter() != null ? input.getMethodParameter().getParameterName() : "parameter";
                return new Problem(ErrorCode.VALIDATION_FAILED, "'" + name + "' has an invalid value");
            }
            if (causedBy(ex, DecodingException.class)) {
                return new Problem(ErrorCode.VALIDATION_FAILED, "Malformed JSON or a field of the wrong type");
            }
            return new Problem(ErrorCode.VALIDATION_FAILED, input.getReason() != null ? input.getReason() : "Invalid request");
        }
        if (ex instanceof ResponseStatusException rse) {
            HttpStatus status = HttpStatus.resolve(rse.getStatusCode().value());
            if (status == HttpStatus.NOT_FOUND) {
                return new Problem(ErrorCode.NOT_FOUND, "No such resource");
            }
            if (status == HttpStatus.CONTENT_TOO_LARGE) {
                return new Problem(ErrorCode.PAYLOAD_TOO_LARGE, "Request body is too large");
            }
            if (status != null && status.is4xxClientError()) {
                return new Problem(ErrorCode.VALIDATION_FAILED, rse.getReason() != null ? rse.getReason() : status.getReasonPhrase());
            }
            if (status == HttpStatus.SERVICE_UNAVAILABLE) {
                return new Problem(ErrorCode.DEPENDENCY_UNAVAILABLE, "A dependency is unavailable; retry shortly");
            }
        }
        if (isDependencyFailure(ex)) {
            return new Problem(ErrorCode.DEPENDENCY_UNAVAILABLE, "A dependency is unavailable; retry shortly");
        }
        return new Problem(ErrorCode.INTERNAL_ERROR, "Unexpected error");
    }

    static boolean isDependencyFailure(Throwable ex) {
        return causedBy(ex, TimeoutException.class)
                || causedBy(ex, RedisConnectionFailureException.class)
                || causedBy(ex, DataAccessResourceFailureException.class)
                || causedBy(ex, TransientDataAccessResourceException.class)
                || causedBy(ex, QueryTimeoutException.class)
                || causedBy(ex, R2dbcTransientResourceException.class)
                || causedBy(ex, R2dbcNonTransientResourceException.class)
                || causedBy(ex, io.lettuce.core.RedisException.class)
                // The transaction manager could not open a connection (the database refused or reset it: a restart).
                || causedBy(ex, org.springframework.transaction.CannotCreateTransactionException.class)
                || causedBy(ex, java.net.ConnectException.class);
    }

    /** Which dependency a failure came from, by the packages of its causes (for the alerts of docs/incident-response.md). */
    static String dependencyOf(Throwable ex) {
        // Redis first: Spring Data Redis translates a Lettuce timeout into the generic org.springframework.dao types.
        if (causedByPackage(ex, "io.lettuce.", "org.springframework.data.redis.")) {
            return "redis";
        }
        // The only transaction manager is R2DBC's: a transaction that cannot start is the database's failure.
        if (causedByPackage(ex, "io.r2dbc.", "io.asyncer.r2dbc.", "org.springframework.r2dbc.", "org.springframework.dao.",
                "org.springframework.transaction.")) {
            return "database";
        }
        return "other";
    }

    private static boolean causedByPackage(Throwable ex, String... packages) {
        for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause()) {
            for (String p : packages) {
                if (t.getClass().getName().startsWith(p)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String describe(FieldError error) {
        return error.getField() + ": " + error.getDefaultMessage();
    }

    private static boolean causedBy(Throwable ex, Class<? extends Throwable> type) {
        return cause(ex, type) != null;
    }

    private static <T extends Throwable> T cause(Throwable ex, Class<T> type) {
        for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }
}
