package com.concertbooking.queue;

import java.lang.reflect.Method;
import java.util.List;

import com.concertbooking.auth.QueuePass;
import org.springframework.core.MethodParameter;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.method.HandlerMethod;
import org.springframework.web.reactive.DispatchExceptionHandler;
import org.springframework.web.reactive.HandlerAdapter;
import org.springframework.web.reactive.HandlerResult;
import org.springframework.web.reactive.result.method.annotation.RequestMappingHandlerAdapter;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * Calls the queue's SSE stream handler ({@link QueueController#stream}) without the annotated-handler invocation
 * (issue 18 item 6). A stream's request lives as long as its fan waits, and with it whatever the invocation kept
 * reachable: an {@code InvocableHandlerMethod} with its own argument resolver composite (a
 * {@code ConcurrentHashMap(256)} cache, 2 KB once filled), the init binder's, the binding context and model, and
 * the subscribers of the argument resolution: about 4 KB per open stream, for two strings.
 * <p>Only the invocation changes: the route is still the controller's {@code @GetMapping}, found by the same
 * handler mapping after the same security chain (so GET and HEAD, 405 with {@code Allow} for other methods, 406
 * when the client accepts no event stream, the OpenAPI document), and its result is written by the same result
 * handler. The two parameters are read as their annotations read them ({@code @RequestParam}, {@code @RequestHeader}
 * of a {@code String}: absent is null, a value sent several times is its values joined with commas, which no token
 * is), and a failure goes to the same exception handling (problem+json).
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE)
class QueueStreamAdapter implements HandlerAdapter {

    static final Method STREAM;

    static {
        try {
            STREAM = QueueController.class.getMethod("stream", String.class, String.class, ServerWebExchange.class);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("QueueController#stream(String, String, ServerWebExchange) moved", e);
        }
    }

    private final QueueController controller;
    private final MethodParameter returnType;
    private final DispatchExceptionHandler errors;

    QueueStreamAdapter(QueueController controller, RequestMappingHandlerAdapter annotated) {
        this.controller = controller;
        this.returnType = new HandlerMethod(controller, STREAM).getReturnType();
        this.errors = annotated;
    }

    @Override
    public boolean supports(Object handler) {
        return handler instanceof HandlerMethod method && STREAM.equals(method.getMethod());
    }

    @Override
    public Mono<HandlerResult> handle(ServerWebExchange exchange, Object handler) {
        // fromCallable, not just: the dispatcher keeps this Mono's subscription for as long as the stream is open, and
        // a just's subscription keeps its value (the result, with its return type and binding context).
        return Mono.fromCallable(() -> {
            var request = exchange.getRequest();
            Object body = controller.stream(single(request.getQueryParams().get("token")),
                    single(request.getHeaders().get(QueuePass.HEADER)), exchange);
            return new HandlerResult(handler, body, returnType).setExceptionHandler(errors);
        });
    }

    /** A {@code String} parameter's value as Spring binds it: one value as it is, several joined with commas. */
    static String single(List<String> values) {
        if (values == null) {
            return null;
        }
        return values.size() == 1 ? values.get(0) : String.join(",", values.stream().map(String::valueOf).toList());
    }
}
