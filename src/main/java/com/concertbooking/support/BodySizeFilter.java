package com.concertbooking.support;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.util.unit.DataSize;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/** Refuses a declared oversized body before reading it; chunked bodies are capped by the codec limit. */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE)
class BodySizeFilter implements WebFilter {

    private final long limit;

    public BodySizeFilter(@Value("${spring.http.codecs.max-in-memory-size:64KB}") DataSize limit) {
        this.limit = limit.toBytes();
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        long length = exchange.getRequest().getHeaders().getContentLength();
        if (length > limit) {
            return Mono.error(new ApiException(ErrorCode.PAYLOAD_TOO_LARGE, "Request body of " + length + " bytes exceeds " + limit));
        }
        return chain.filter(exchange);
    }

    /**
     * The filter chain names each filter step by this (a checkpoint per request, kept as long as the request, so for
     * as long as an SSE stream is open): one string for all requests instead of a new one each.
     */
    @Override
    public String toString() {
        return NAME;
    }

    private static final String NAME = BodySizeFilter.class.getName();
}
