package com.concertbooking.queue;

import java.util.Optional;

import com.concertbooking.auth.ActivePass;
import com.concertbooking.auth.Caller;
import com.concertbooking.auth.PaymentPass;
import com.concertbooking.auth.QueuePass;
import com.concertbooking.auth.ReplayPass;
import com.concertbooking.queue.QueueStore.Kind;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.MethodParameter;
import org.springframework.web.reactive.BindingContext;
import org.springframework.web.reactive.config.WebFluxConfigurer;
import org.springframework.web.reactive.result.method.HandlerMethodArgumentResolver;
import org.springframework.web.reactive.result.method.annotation.ArgumentResolverConfigurer;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * The Queue column of SPEC 3, as handler parameters: a handler that takes an {@link ActivePass}, a
 * {@link PaymentPass} or a {@link LivePass} (or an {@code Optional} of one) runs only with a genuine queue token of
 * its caller, from the {@value QueuePass#HEADER} header, in that state:
 * <ul>
 * <li>missing: 401 TOKEN_MISSING (an {@code Optional} parameter is empty instead);
 * <li>forged or malformed: 401 TOKEN_INVALID; another user's: 403 FORBIDDEN (worthless without its own access token);
 * <li>ended: 401 TOKEN_EXPIRED, except a {@link ReplayPass} for a payment retry with an Idempotency-Key (SPEC 4.4);
 * <li>still waiting where ACTIVE is needed: 403 TOKEN_NOT_ACTIVE.
 * </ul>
 * Which concert the pass is good for is checked by the handler, on the date or reservation it acts on.
 */
@Configuration(proxyBeanMethods = false)
class QueuePasses implements HandlerMethodArgumentResolver, WebFluxConfigurer {

    private final QueueService queue;

    QueuePasses(QueueService queue) {
        this.queue = queue;
    }

    @Override
    public void configureArgumentResolvers(ArgumentResolverConfigurer configurer) {
        configurer.addCustomResolver(this);
    }

    @Override
    public boolean supportsParameter(MethodParameter parameter) {
        Class<?> type = parameter.nestedIfOptional().getNestedParameterType();
        return type == ActivePass.class || type == PaymentPass.class || type == LivePass.class;
    }

    @Override
    public Mono<Object> resolveArgument(MethodParameter parameter, BindingContext bindingContext, ServerWebExchange exchange) {
        Class<?> type = parameter.nestedIfOptional().getNestedParameterType();
        String token = exchange.getRequest().getHeaders().getFirst(QueuePass.HEADER);
        if (token == null) {
            return parameter.isOptional() ? Mono.just(Optional.empty())
                    : Mono.error(new ApiException(ErrorCode.TOKEN_MISSING, "This request needs a queue token (" + QueuePass.HEADER + " header)"));
        }
        boolean replayable = type == PaymentPass.class && exchange.getRequest().getHeaders().containsHeader(PaymentPass.IDEMPOTENCY_KEY);
        return queue.verify(token)
                .zipWith(Caller.of(exchange), (verified, caller) -> {
                    if (verified.pass().userId() != caller.userId()) {
                        throw new ApiException(ErrorCode.FORBIDDEN, "The queue token belongs to another user");
                    }
                    Object pass = type == LivePass.class ? live(verified) : replayable && !verified.live()
                            ? new ReplayPass(verified.pass().userId(), verified.pass().concertId()) : active(verified);
                    return parameter.isOptional() ? Optional.of(pass) : pass;
                });
    }

    /** 401 TOKEN_EXPIRED unless the token's entry is still in the queue (waiting or active). */
    static LivePass live(QueueService.Verified verified) {
        if (!verified.live()) {
            throw new ApiException(ErrorCode.TOKEN_EXPIRED, "The queue token has ended (used, left or expired)");
        }
        return new LivePass(verified);
    }

    private static ActivePass active(QueueService.Verified verified) {
        if (live(verified).verified().state().kind() != Kind.ACTIVE) {
            throw new ApiException(ErrorCode.TOKEN_NOT_ACTIVE, "Still waiting in the queue; the token is not active yet");
        }
        return new ActivePass(verified.pass().userId(), verified.pass().concertId(), verified.pass().entryId());
    }
}
