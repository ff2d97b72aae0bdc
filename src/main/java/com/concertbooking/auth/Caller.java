package com.concertbooking.auth;

import java.util.Optional;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import org.springframework.security.core.Authentication;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.server.ServerWebExchange;

/**
 * The signed-in fan of a request: the access token's subject as a user id. Put on the exchange by
 * {@link CallerFilter} on every user route, after Spring Security has validated the token.
 */
public record Caller(long userId) {

    private static final String ATTRIBUTE = Caller.class.getName();

    public static Optional<Caller> of(ServerWebExchange exchange) {
        return Optional.ofNullable(exchange.getAttribute(ATTRIBUTE));
    }

    /** The caller; the route rules make this present on every user route (the belt to those braces). */
    public static Caller required(ServerWebExchange exchange) {
        return of(exchange).orElseThrow(() -> new ApiException(ErrorCode.UNAUTHENTICATED, "Sign in: this request needs an access token"));
    }

    void put(ServerWebExchange exchange) {
        exchange.getAttributes().put(ATTRIBUTE, this);
    }

    /** The user id of an authenticated access token whose subject is a positive decimal id, else null. */
    static Long userIdOf(Authentication authentication) {
        if (!(authentication instanceof JwtAuthenticationToken jwt) || !jwt.isAuthenticated()) {
            return null;
        }
        return positiveId(jwt.getToken().getSubject());
    }

    /** A positive decimal id, or null for anything else (the handler then answers 400 for its own inputs). */
    static Long positiveId(String s) {
        if (s == null || s.isEmpty() || s.length() > 19) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return null;
            }
        }
        try {
            long id = Long.parseLong(s);
            return id > 0 ? id : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
