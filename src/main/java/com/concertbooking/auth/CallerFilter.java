package com.concertbooking.auth;

import java.util.List;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import org.springframework.core.annotation.Order;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.security.core.Authentication;
import org.springframework.stereotype.Component;
import org.springframework.util.unit.DataSize;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * SPEC 4.9, enforced once for every user route: a user id the request names (in the path, the query or the JSON
 * body, as {@link AccessRules} says) must be the caller's own, else 403 FORBIDDEN. Runs right after Spring
 * Security, which has already authenticated the caller. An id that is not a valid id is left to the handler's
 * 400; a body is read once (it is small: the codec limit applies) and handed on unchanged.
 */
@Component
@Order(CallerFilter.ORDER)
public class CallerFilter implements WebFilter {

    /** After Spring Security's chain (-100), before the queue's token guard. */
    public static final int ORDER = -90;

    private final ObjectMapper json;
    private final int maxBody;

    public CallerFilter(ObjectMapper json, @Value("${spring.http.codecs.max-in-memory-size:64KB}") DataSize maxBody) {
        this.json = json;
        this.maxBody = (int) maxBody.toBytes();
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        var match = AccessRules.of(exchange).orElse(null);
        if (match == null || match.rule().access() != AccessRules.Access.USER) {
            return chain.filter(exchange);
        }
        return exchange.getPrincipal()
                .map(principal -> Caller.userIdOf((Authentication) principal))
                .switchIfEmpty(Mono.error(() -> new ApiException(ErrorCode.UNAUTHENTICATED, "Sign in: this request needs an access token")))
                .flatMap(userId -> {
                    Caller caller = new Caller(userId);
                    caller.put(exchange);
                    return switch (match.rule().owner()) {
                        case NONE -> chain.filter(exchange);
                        case PATH -> {
                            requireOwn(caller, match.variables().get(AccessRules.USER_ID));
                            yield chain.filter(exchange);
                        }
                        case QUERY -> {
                            List<String> values = exchange.getRequest().getQueryParams().get(AccessRules.USER_ID);
                            if (values != null && values.size() > 1) {
                                throw ApiException.validation("userId is given more than once");
                            }
                            requireOwn(caller, values == null ? null : values.get(0));
                            yield chain.filter(exchange);
                        }
                        case BODY -> checkBody(exchange, chain, caller);
                    };
                });
    }

    private static void requireOwn(Caller caller, String named) {
        Long id = Caller.positiveId(named);
        if (id != null && id != caller.userId()) {
            throw new ApiException(ErrorCode.FORBIDDEN, "You may only act for your own user id");
        }
    }

    private Mono<Void> checkBody(ServerWebExchange exchange, WebFilterChain chain, Caller caller) {
        return DataBufferUtils.join(exchange.getRequest().getBody(), maxBody)
                .map(buffer -> {
                    byte[] bytes = new byte[buffer.readableByteCount()];
                    buffer.read(bytes);
                    DataBufferUtils.release(buffer);
                    return bytes;
                })
                .defaultIfEmpty(new byte[0])
                .flatMap(bytes -> {
                    JsonNode named = userIdField(bytes);
                    if (named != null && named.isIntegralNumber() && named.canConvertToLong() && named.longValue() > 0
                            && named.longValue() != caller.userId()) {
                        return Mono.error(new ApiException(ErrorCode.FORBIDDEN, "You may only act for your own user id"));
                    }
                    var request = new ServerHttpRequestDecorator(exchange.getRequest()) {
                        @Override
                        public Flux<DataBuffer> getBody() {
                            return Flux.defer(() -> Flux.just(exchange.getResponse().bufferFactory().wrap(bytes)));
                        }
                    };
                    return chain.filter(exchange.mutate().request(request).build());
                });
    }

    /** The top-level {@code userId} of a JSON object, or null; malformed JSON is the handler's 400, not ours. */
    private JsonNode userIdField(byte[] bytes) {
        if (bytes.length == 0) {
            return null;
        }
        try {
            JsonNode root = json.readTree(bytes);
            return root != null && root.isObject() ? root.get(AccessRules.USER_ID) : null;
        } catch (JacksonException e) {
            return null;
        }
    }
}
