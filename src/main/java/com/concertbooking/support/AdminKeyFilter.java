package com.concertbooking.support;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/** Guards {@code /api/v1/admin/**} with the {@code X-Admin-Key} header (constant-time comparison). */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
public class AdminKeyFilter implements WebFilter {

    public static final String HEADER = "X-Admin-Key";
    private final byte[] expected;

    public AdminKeyFilter(BookingProperties properties) {
        String key = properties.admin().apiKey();
        if (key == null || key.isBlank()) {
            throw new IllegalStateException("booking.admin.api-key must be set");
        }
        this.expected = key.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (!exchange.getRequest().getPath().value().startsWith("/api/v1/admin")) {
            return chain.filter(exchange);
        }
        String given = exchange.getRequest().getHeaders().getFirst(HEADER);
        if (given == null || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8))) {
            return Mono.error(new ApiException(ErrorCode.ADMIN_KEY_INVALID, "Missing or wrong " + HEADER + " header"));
        }
        return chain.filter(exchange);
    }
}
