package com.concertbooking.auth;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.springframework.http.HttpMethod;
import org.springframework.http.server.PathContainer;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.util.pattern.PathPattern;
import org.springframework.web.util.pattern.PathPatternParser;

/**
 * Who may call each route: the table of SPEC section 3 (columns Auth and Queue), declared once. A route
 * without a rule is closed ({@link #match} is empty, and the security chain denies it); a test walks every
 * handler mapping of the application and fails on a route this table does not name.
 *
 * <p>Paths are matched decoded and normalised (Spring's {@link PathContainer}), after Spring Security's strict
 * firewall has refused {@code ;}, encoded {@code /}, {@code %25} and {@code ..}; so {@code /api/v1/%61dmin}
 * is the admin route here exactly as it is for the handler. A GET rule also covers HEAD, which WebFlux
 * serves with the GET handler.
 */
public final class AccessRules {

    /** Column "Auth": nobody, a signed-in fan (the token's subject is a user id), or an operator. */
    public enum Access { PUBLIC, USER, ADMIN }

    /** Column "Queue": which queue token the route needs (checked by the queue's token guard). */
    public enum QueueNeed {
        /** The route ignores queue tokens. */
        NONE,
        /** A presented queue token is verified and reported; none is fine. */
        OPTIONAL,
        /** A live queue token (WAITING or ACTIVE). */
        LIVE,
        /** An ACTIVE queue token. */
        ACTIVE
    }

    /** Where a request names a user id that must be the caller's own (SPEC 4.9). */
    public enum Owner { NONE, PATH, QUERY, BODY }

    /** The field (path variable, query parameter or top-level JSON field) that names the user. */
    public static final String USER_ID = "userId";

    public record Rule(Set<HttpMethod> methods, PathPattern pattern, Access access, QueueNeed queue, Owner owner) {

        boolean allows(HttpMethod method) {
            return methods.isEmpty() || methods.contains(method) || (method == HttpMethod.HEAD && methods.contains(HttpMethod.GET));
        }

        @Override
        public String toString() {
            return (methods.isEmpty() ? "*" : methods.toString()) + " " + pattern.getPatternString() + " -> " + access;
        }
    }

    /** A request's rule with the path variables it matched. */
    public record Match(Rule rule, Map<String, String> variables) {}

    private static final PathPatternParser PARSER = PathPatternParser.defaultInstance;
    private static final String MATCH = AccessRules.class.getName() + ".match";
    private static final Set<HttpMethod> ANY = Set.of();

    private static final List<Rule> RULES = List.of(
            // SPEC 3, rows 1-16
            open(HttpMethod.GET, "/api/v1/concerts"),
            open(HttpMethod.GET, "/api/v1/concerts/{concertId}"),
            open(HttpMethod.GET, "/api/v1/concerts/{concertId}/dates"),
            open(HttpMethod.GET, "/api/v1/concerts/{concertId}/sale"),
            user(HttpMethod.GET, "/api/v1/concerts/dates/{concertDateId}/seats", QueueNeed.ACTIVE, Owner.NONE),
            user(HttpMethod.GET, "/api/v1/users/{userId}/balance", QueueNeed.NONE, Owner.PATH),
            user(HttpMethod.PATCH, "/api/v1/users/{userId}/charge", QueueNeed.NONE, Owner.PATH),
            user(HttpMethod.PATCH, "/api/v1/{userId}/charge", QueueNeed.NONE, Owner.PATH),
            user(HttpMethod.POST, "/api/v1/queues/token", QueueNeed.OPTIONAL, Owner.BODY),
            user(HttpMethod.GET, "/api/v1/queues/status", QueueNeed.LIVE, Owner.NONE),
            new Rule(Set.of(HttpMethod.GET), PARSER.parse("/api/v1/queues/stream"), Access.PUBLIC, QueueNeed.LIVE, Owner.NONE),
            user(HttpMethod.DELETE, "/api/v1/queues/token", QueueNeed.LIVE, Owner.NONE),
            user(HttpMethod.POST, "/api/v1/reservations", QueueNeed.ACTIVE, Owner.BODY),
            user(HttpMethod.GET, "/api/v1/reservations/{userId}", QueueNeed.NONE, Owner.PATH),
            user(HttpMethod.DELETE, "/api/v1/reservations/{reservationId}", QueueNeed.NONE, Owner.QUERY),
            user(HttpMethod.POST, "/api/v1/payments/pay", QueueNeed.ACTIVE, Owner.BODY),
            admin("/api/v1/admin/**"),
            open(HttpMethod.POST, "/api/v1/auth/login"),
            open(HttpMethod.GET, "/.well-known/jwks.json"),
            // Operations (SPEC 9, 11): probes and the scrape are open without details; the rest of actuator is admin.
            open(HttpMethod.GET, "/actuator/health/liveness"),
            open(HttpMethod.GET, "/actuator/health/readiness"),
            open(HttpMethod.GET, "/actuator/prometheus"),
            admin("/actuator/**"),
            open(HttpMethod.GET, "/v3/api-docs"),
            open(HttpMethod.GET, "/v3/api-docs/**"),
            open(HttpMethod.GET, "/v3/api-docs.yaml"),
            open(HttpMethod.GET, "/swagger-ui.html"),
            open(HttpMethod.GET, "/swagger-ui/**"),
            open(HttpMethod.GET, "/webjars/**"),
            // The web pages' static files (SPEC 12).
            open(HttpMethod.GET, "/"),
            open(HttpMethod.GET, "/index.html"),
            open(HttpMethod.GET, "/ops"),
            open(HttpMethod.GET, "/ops.html"),
            open(HttpMethod.GET, "/assets/**"),
            open(HttpMethod.GET, "/favicon.ico"));

    private AccessRules() {}

    private static Rule open(HttpMethod method, String pattern) {
        return new Rule(Set.of(method), PARSER.parse(pattern), Access.PUBLIC, QueueNeed.NONE, Owner.NONE);
    }

    private static Rule user(HttpMethod method, String pattern, QueueNeed queue, Owner owner) {
        return new Rule(Set.of(method), PARSER.parse(pattern), Access.USER, queue, owner);
    }

    private static Rule admin(String pattern) {
        return new Rule(ANY, PARSER.parse(pattern), Access.ADMIN, QueueNeed.NONE, Owner.NONE);
    }

    public static List<Rule> all() {
        return RULES;
    }

    /** The first rule for this method and (decoded) path, if any. */
    public static Optional<Match> match(HttpMethod method, String path) {
        PathContainer container = PathContainer.parsePath(path);
        for (Rule rule : RULES) {
            if (rule.allows(method)) {
                PathPattern.PathMatchInfo info = rule.pattern().matchAndExtract(container);
                if (info != null) {
                    return Optional.of(new Match(rule, info.getUriVariables()));
                }
            }
        }
        return Optional.empty();
    }

    /** The rule of this request, matched once and remembered on the exchange. */
    public static Optional<Match> of(ServerWebExchange exchange) {
        Optional<Match> cached = exchange.getAttribute(MATCH);
        if (cached == null) {
            var request = exchange.getRequest();
            cached = match(request.getMethod(), request.getPath().pathWithinApplication().value());
            exchange.getAttributes().put(MATCH, cached);
        }
        return cached;
    }

    /** The methods some rule allows on this path (empty: no such route). */
    static Set<HttpMethod> methodsFor(String path) {
        PathContainer container = PathContainer.parsePath(path);
        Set<HttpMethod> methods = new java.util.LinkedHashSet<>();
        for (Rule rule : RULES) {
            if (rule.pattern().matches(container)) {
                methods.addAll(rule.methods().isEmpty() ? Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH,
                        HttpMethod.DELETE) : rule.methods());
            }
        }
        if (methods.contains(HttpMethod.GET)) {
            methods.add(HttpMethod.HEAD);
        }
        return methods;
    }

    public static QueueNeed queueNeed(ServerWebExchange exchange) {
        return of(exchange).map(m -> m.rule().queue()).orElse(QueueNeed.NONE);
    }
}
