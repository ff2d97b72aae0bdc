package com.concertbooking.queue;

import com.concertbooking.auth.Caller;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** SPEC section 3 rows 7-10. The caller is authenticated and the token guard ({@link QueueTokenFilter}) has verified any queue token before these run. */
@RestController
@RequestMapping("/api/v1/queues")
public class QueueController {

    private final QueueService queue;
    private final QueueStreams streams;

    public QueueController(QueueService queue, QueueStreams streams) {
        this.queue = queue;
        this.streams = streams;
    }

    /** {@code userId} may be sent and must then be the caller's (checked with every route's ids by auth.CallerFilter). */
    public record TokenRequest(@Positive Long userId, @NotNull @Positive Long concertId) {}

    /** 201 with a new token; 200 reporting the live one (presented, or already held for this user and concert). */
    @PostMapping(path = "/token", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<QueueService.Ticket>> token(@Valid @RequestBody TokenRequest request, ServerWebExchange exchange) {
        long userId = Caller.required(exchange).userId();
        var presented = QueueTokenFilter.verified(exchange);
        if (presented.isPresent()) {
            presented.get().pass().requireConcert(request.concertId());
            return Mono.just(ResponseEntity.ok(presented.get().ticket()));
        }
        return queue.issue(userId, request.concertId())
                .map(issued -> ResponseEntity.status(issued.created() ? HttpStatus.CREATED : HttpStatus.OK).body(issued.ticket()));
    }

    @GetMapping("/status")
    public Mono<QueueService.Ticket> status(ServerWebExchange exchange) {
        return Mono.just(required(exchange).ticket());
    }

    @GetMapping(path = "/stream", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<Object>> stream(ServerWebExchange exchange) {
        QueueService.Verified verified = required(exchange);
        var headers = exchange.getResponse().getHeaders();
        headers.setCacheControl(CacheControl.noStore());
        headers.set("X-Accel-Buffering", "no"); // proxies must not buffer the event stream
        return streams.stream(verified);
    }

    @DeleteMapping("/token")
    public Mono<ResponseEntity<Void>> leave(ServerWebExchange exchange) {
        return queue.leave(required(exchange).pass()).thenReturn(ResponseEntity.noContent().build());
    }

    private static QueueService.Verified required(ServerWebExchange exchange) {
        // The guard answers 401 before a request without a live token gets here; this is the belt to those braces.
        return QueueTokenFilter.verified(exchange)
                .orElseThrow(() -> new ApiException(ErrorCode.TOKEN_MISSING, "A queue token is required"));
    }
}
