package com.concertbooking.queue;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.QueuePass;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.server.PathContainer;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import org.springframework.web.util.pattern.PathPattern;
import org.springframework.web.util.pattern.PathPatternParser;
import reactor.core.publisher.Mono;

/**
 * The token column of SPEC section 3. ACTIVE routes (seats, holds, payments) need a live ACTIVE token (and, for
 * seats, one of the date's concert); the queue's own routes need a live token; elsewhere a presented token must
 * be genuine, live and of the user the path or query names. The verified pass goes on the exchange
 * ({@link QueuePass#put}) so handlers can compare the ids in bodies.
 * <p>SPEC 4.4: a payment retry with an {@code Idempotency-Key} whose genuine token has ended (by that payment, or
 * by expiry) passes with status ENDED, so the payment handler can replay the stored response.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 20)
public class QueueTokenFilter implements WebFilter {

    static final String VERIFIED = QueueTokenFilter.class.getName() + ".verified";
    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";

    private enum Need { ACTIVE, LIVE, OPTIONAL }

    private record Rule(HttpMethod method, PathPattern pattern, Need need, String userVariable, String userQuery) {}

    private static final PathPatternParser PARSER = PathPatternParser.defaultInstance;
    private static final String SEATS = "/api/v1/concerts/dates/{concertDateId}/seats";
    private static final String PAY = "/api/v1/payments/pay";
    private static final String STREAM = "/api/v1/queues/stream";
    private static final List<Rule> RULES = List.of(
            rule(HttpMethod.GET, SEATS, Need.ACTIVE, null, null),
            rule(HttpMethod.POST, "/api/v1/reservations", Need.ACTIVE, null, null),
            rule(HttpMethod.POST, PAY, Need.ACTIVE, null, null),
            rule(HttpMethod.GET, "/api/v1/queues/status", Need.LIVE, null, null),
            rule(HttpMethod.GET, STREAM, Need.LIVE, null, null),
            rule(HttpMethod.DELETE, "/api/v1/queues/token", Need.LIVE, null, null),
            rule(HttpMethod.POST, "/api/v1/queues/token", Need.OPTIONAL, null, null),
            rule(null, "/api/v1/users/{userId}/balance", Need.OPTIONAL, "userId", null),
            rule(null, "/api/v1/users/{userId}/charge", Need.OPTIONAL, "userId", null),
            rule(null, "/api/v1/{userId}/charge", Need.OPTIONAL, "userId", null),
            rule(HttpMethod.GET, "/api/v1/reservations/{userId}", Need.OPTIONAL, "userId", null),
            rule(HttpMethod.DELETE, "/api/v1/reservations/{reservationId}", Need.OPTIONAL, null, "userId"));

    private static Rule rule(HttpMethod method, String pattern, Need need, String userVariable, String userQuery) {
        return new Rule(method, PARSER.parse(pattern), need, userVariable, userQuery);
    }

    private final QueueService queue;

    public QueueTokenFilter(QueueService queue) {
        this.queue = queue;
    }

    /** The verified token of this request, if one was presented and is live (or ENDED on a payment retry). */
    public static Optional<QueueService.Verified> verified(ServerWebExchange exchange) {
        return Optional.ofNullable(exchange.getAttribute(VERIFIED));
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        var request = exchange.getRequest();
        String path = request.getPath().pathWithinApplication().value();
        if (!path.startsWith("/api/v1/") || path.startsWith("/api/v1/admin")) {
            return chain.filter(exchange);
        }
        PathContainer container = PathContainer.parsePath(path);
        Rule rule = null;
        PathPattern.PathMatchInfo match = null;
        for (Rule r : RULES) {
            if (r.method() == null || r.method().equals(request.getMethod())) {
                match = r.pattern().matchAndExtract(container);
                if (match != null) {
                    rule = r;
                    break;
                }
            }
        }
        String token = token(exchange, STREAM.equals(path));
        Need need = rule == null ? Need.OPTIONAL : rule.need();
        if (token == null) {
            return need == Need.OPTIONAL ? chain.filter(exchange)
                    : Mono.error(new ApiException(ErrorCode.TOKEN_MISSING, "This request needs a queue token (Authorization: Bearer ...)"));
        }
        Rule matched = rule;
        Map<String, String> variables = match == null ? Map.of() : match.getUriVariables();
        return queue.verify(token).flatMap(v -> check(exchange, matched, need, variables, v)).then(Mono.defer(() -> chain.filter(exchange)));
    }

    private Mono<Void> check(ServerWebExchange exchange, Rule rule, Need need, Map<String, String> variables, QueueService.Verified v) {
        QueuePass pass = v.pass();
        if (!v.live()) {
            boolean paymentRetry = rule != null && PAY.equals(rule.pattern().getPatternString())
                    && exchange.getRequest().getHeaders().getFirst(IDEMPOTENCY_KEY) != null;
            if (!paymentRetry) {
                return Mono.error(new ApiException(ErrorCode.TOKEN_EXPIRED, "The queue token has ended (used, left or expired)"));
            }
            publish(exchange, v);
            return Mono.empty();
        }
        if (need == Need.ACTIVE && pass.status() != QueuePass.Status.ACTIVE) {
            return Mono.error(new ApiException(ErrorCode.TOKEN_NOT_ACTIVE, "Still waiting in the queue; the token is not active yet"));
        }
        if (rule != null) {
            Long named = rule.userVariable() != null ? positiveLong(variables.get(rule.userVariable()))
                    : rule.userQuery() != null ? positiveLong(exchange.getRequest().getQueryParams().getFirst(rule.userQuery())) : null;
            if (named != null) {
                pass.requireUser(named); // unparsable ids are the handler's 400, not ours
            }
        }
        publish(exchange, v);
        if (rule != null && SEATS.equals(rule.pattern().getPatternString())) {
            Long dateId = positiveLong(variables.get("concertDateId"));
            if (dateId != null) {
                return queue.concertOfDate(dateId).doOnNext(pass::requireConcert).then();
            }
        }
        return Mono.empty();
    }

    private static void publish(ServerWebExchange exchange, QueueService.Verified v) {
        v.pass().put(exchange);
        exchange.getAttributes().put(VERIFIED, v);
    }

    /** Bearer header; the stream also takes {@code ?token=} because browsers' EventSource cannot set headers. */
    private static String token(ServerWebExchange exchange, boolean allowQuery) {
        String header = exchange.getRequest().getHeaders().getFirst(HttpHeaders.AUTHORIZATION);
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return header.substring(7).trim();
        }
        if (header != null && header.trim().equalsIgnoreCase("Bearer")) {
            return ""; // "Bearer" with nothing after it is a presented, malformed token
        }
        return allowQuery ? exchange.getRequest().getQueryParams().getFirst("token") : null;
    }

    private static Long positiveLong(String s) {
        if (s == null) {
            return null;
        }
        try {
            long v = Long.parseLong(s);
            return v > 0 ? v : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
