package com.concertbooking.auth;

import java.security.Principal;
import java.util.OptionalLong;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.Ids;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * The signed-in fan of a request: the access token's subject as a user id. A handler that acts for a fan takes a
 * {@code Caller} parameter (resolved by {@link CallerResolver}); every user id the request names, in the path, the
 * query or the body, goes through {@link #requireSelf} on the very value the handler then uses (SPEC 4.9, 4.14).
 */
public record Caller(long userId) {

    /** 403 FORBIDDEN unless {@code userId} is the caller's own. */
    public void requireSelf(long userId) {
        if (userId != this.userId) {
            throw new ApiException(ErrorCode.FORBIDDEN, "You may only act for your own user id");
        }
    }

    /** The caller of this request; 401 without an access token, 403 for one whose subject is no user id. */
    public static Mono<Caller> of(ServerWebExchange exchange) {
        return exchange.getPrincipal()
                .switchIfEmpty(Mono.error(() -> new ApiException(ErrorCode.UNAUTHENTICATED, "Sign in: this request needs an access token")))
                .map(Caller::of);
    }

    static Caller of(Principal principal) {
        OptionalLong id = userIdOf(principal);
        if (id.isEmpty()) {
            throw new ApiException(ErrorCode.FORBIDDEN, "This access token names no user");
        }
        return new Caller(id.getAsLong());
    }

    /** The user id of an access token whose subject is a canonical decimal id (SPEC 11), else empty. */
    static OptionalLong userIdOf(Principal principal) {
        return principal instanceof JwtAuthenticationToken jwt && jwt.isAuthenticated()
                ? Ids.parse(jwt.getToken().getSubject()) : OptionalLong.empty();
    }
}
