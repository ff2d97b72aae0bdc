package com.concertbooking.queue;

import java.util.Optional;

import com.concertbooking.auth.Caller;
import com.concertbooking.auth.QueuePass;
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
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** SPEC section 3 rows 7-10. Caller and pass parameters are resolved (and refused) before these run: see {@link QueuePasses}. */
@RestController
@RequestMapping("/api/v1/queues")
class QueueController {

    private final QueueService queue;
    private final QueueStreams streams;

    public QueueController(QueueService queue, QueueStreams streams) {
        this.queue = queue;
        this.streams = streams;
    }

    /** {@code userId} may be sent and must then be the caller's. */
    public record TokenRequest(@Positive Long userId, @NotNull @Positive Long concertId) {}

    /** 201 with a new token; 200 reporting the live one (presented, or already held for this user and concert). */
    @PostMapping(path = "/token", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<QueueService.Ticket>> token(Caller caller, Optional<LivePass> presented,
                                                           @Valid @RequestBody Mono<TokenRequest> body) {
        return body.flatMap(request -> {
            if (request.userId() != null) {
                caller.requireSelf(request.userId());
            }
            if (presented.isPresent()) {
                if (presented.get().concertId() != request.concertId()) {
                    return Mono.error(new ApiException(ErrorCode.FORBIDDEN, "The queue token is for another concert"));
                }
                return Mono.just(ResponseEntity.ok(presented.get().ticket()));
            }
            return queue.issue(caller.userId(), request.concertId())
                    .map(issued -> ResponseEntity.status(issued.created() ? HttpStatus.CREATED : HttpStatus.OK).body(issued.ticket()));
        });
    }

    @GetMapping("/status")
    public Mono<QueueService.Ticket> status(LivePass pass) {
        return Mono.just(pass.ticket());
    }

    /** The one route that takes its queue token alone, as {@code ?token=} (EventSource cannot set headers): it only reveals a position. */
    @GetMapping(path = "/stream", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<Object>> stream(@RequestParam(name = "token", required = false) String token,
                                                @RequestHeader(name = QueuePass.HEADER, required = false) String header,
                                                ServerWebExchange exchange) {
        String presented = header != null ? header : token;
        if (presented == null) {
            return Flux.error(new ApiException(ErrorCode.TOKEN_MISSING, "The stream needs the queue token as ?token="));
        }
        var headers = exchange.getResponse().getHeaders();
        headers.setCacheControl(CacheControl.noStore());
        headers.set("X-Accel-Buffering", "no"); // proxies must not buffer the event stream
        // Detached once verified: flatMapMany keeps its upstream's subscription for as long as the stream is open, and
        // with it the whole finished verification (its Redis script call's subscribers and arguments), per open stream.
        // Assembled when subscribed: the returned publisher is kept by the request as long as the stream is open, and
        // assembled here it would keep the verification's operators (and their script keys and arguments) with it.
        return Flux.defer(() -> queue.verify(presented).map(QueuePasses::live).onTerminateDetach()
                .flatMapMany(pass -> streams.stream(pass.verified())));
    }

    @DeleteMapping("/token")
    public Mono<ResponseEntity<Void>> leave(LivePass pass) {
        return queue.leave(pass.verified().pass()).thenReturn(ResponseEntity.noContent().build());
    }
}
