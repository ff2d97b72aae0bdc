package com.concertbooking.queue;

import com.concertbooking.support.QueuePass;
import org.springframework.stereotype.Service;
import reactor.core.publisher.Mono;

/** Waiting queue and admissions on Redis. (Being built in the queue issue.) */
@Service
public class QueueService {

    /** Ends a pass after payment: the ACTIVE slot is freed and the token is dead from now on. */
    public Mono<Void> endPass(QueuePass pass) {
        return Mono.empty();
    }
}
