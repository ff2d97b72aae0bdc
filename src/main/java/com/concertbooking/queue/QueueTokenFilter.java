package com.concertbooking.queue;

import java.util.Optional;

import com.concertbooking.auth.AccessRules;
import com.concertbooking.auth.AccessRules.QueueNeed;
import com.concertbooking.auth.Caller;
import com.concertbooking.auth.CallerFilter;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.QueuePass;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * The Queue column of SPEC section 3 ({@link AccessRules.QueueNeed}): ACTIVE routes (seats, holds, payments) need
 * a live ACTIVE queue token (for seats, one of the date's concert); the queue's own routes need a live one. The
 * token comes in the {@code Queue-Token} header, and is worthless without the access token of the same user: a
 * queue token of another user is 403 FORBIDDEN. Only the SSE stream takes it alone, also as {@code ?token=}
 * because browsers' EventSource cannot set headers; the stream only reveals a position.
 * The verified pass goes on the exchange ({@link QueuePass#put}) so handlers can compare concerts and ids.
 * <p>SPEC 4.4: a payment retry with an {@code Idempotency-Key} whose genuine token has ended (by that payment, or
 * by expiry) passes with status ENDED, so the payment handler can replay the stored response.
 */
@Component
@Order(CallerFilter.ORDER + 10)
public class QueueTokenFilter implements WebFilter {

    public static final String HEADER = "Queue-Token";
    static final String STREAM_PARAMETER = "token";
    static final String VERIFIED = QueueTokenFilter.class.getName() + ".verified";
    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    private static final String SEATS = "/api/v1/concerts/dates/{concertDateId}/seats";
    private static final String PAY = "/api/v1/payments/pay";
    private static final String STREAM = "/api/v1/queues/stream";

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
        var match = AccessRules.of(exchange).orElse(null);
        QueueNeed need = match == null ? QueueNeed.NONE : match.rule().queue();
        if (need == QueueNeed.NONE) {
            return chain.filter(exchange);
        }
        String route = match.rule().pattern().getPatternString();
        String token = exchange.getRequest().getHeaders().getFirst(HEADER);
        if (token == null && STREAM.equals(route)) {
            token = exchange.getRequest().getQueryParams().getFirst(STREAM_PARAMETER);
        }
        if (token == null) {
            return need == QueueNeed.OPTIONAL ? chain.filter(exchange)
                    : Mono.error(new ApiException(ErrorCode.TOKEN_MISSING, STREAM.equals(route)
                            ? "The stream needs the queue token as ?token=" : "This request needs a queue token (" + HEADER + " header)"));
        }
        return queue.verify(token)
                .flatMap(v -> check(exchange, route, need, v))
                .then(Mono.defer(() -> chain.filter(exchange)));
    }

    private Mono<Void> check(ServerWebExchange exchange, String route, QueueNeed need, QueueService.Verified v) {
        QueuePass pass = v.pass();
        Optional<Caller> caller = Caller.of(exchange);
        if (caller.isPresent() && caller.get().userId() != pass.userId()) {
            return Mono.error(new ApiException(ErrorCode.FORBIDDEN, "The queue token belongs to another user"));
        }
        if (!v.live()) {
            boolean paymentRetry = PAY.equals(route) && exchange.getRequest().getHeaders().getFirst(IDEMPOTENCY_KEY) != null;
            if (!paymentRetry) {
                return Mono.error(new ApiException(ErrorCode.TOKEN_EXPIRED, "The queue token has ended (used, left or expired)"));
            }
            publish(exchange, v);
            return Mono.empty();
        }
        if (need == QueueNeed.ACTIVE && pass.status() != QueuePass.Status.ACTIVE) {
            return Mono.error(new ApiException(ErrorCode.TOKEN_NOT_ACTIVE, "Still waiting in the queue; the token is not active yet"));
        }
        publish(exchange, v);
        if (SEATS.equals(route)) {
            String date = AccessRules.of(exchange).map(m -> m.variables().get("concertDateId")).orElse(null);
            Long dateId = positiveLong(date);
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
