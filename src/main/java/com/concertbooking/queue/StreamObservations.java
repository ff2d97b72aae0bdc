package com.concertbooking.queue;

import io.micrometer.observation.ObservationPredicate;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.server.reactive.observation.ServerRequestObservationContext;

/**
 * No per-request observation of the queue's SSE stream (issue 18 item 6). An HTTP request's observation (the
 * {@code http.server.requests} timer, its active-request long task timer, their contexts and key values) lives as
 * long as the request, and a stream's request lives as long as its fan waits: per open stream that was kept heap for
 * a timer sample nobody reads (a stream's "duration" is how long someone waited, which the queue's own metrics say
 * better: {@code booking.queue.streams}). The stream's own answers and errors stay in the queue's metrics and logs.
 */
@Configuration(proxyBeanMethods = false)
class StreamObservations {

    static final String STREAM_PATH = "/api/v1/queues/stream";

    @Bean
    ObservationPredicate noObservationOfQueueStreams() {
        return (name, context) -> !(context instanceof ServerRequestObservationContext request
                && STREAM_PATH.equals(request.getCarrier().getPath().pathWithinApplication().value()));
    }
}
