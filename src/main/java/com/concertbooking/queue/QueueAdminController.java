package com.concertbooking.queue;

import java.time.Clock;

import com.concertbooking.support.ApiException;
import com.fasterxml.jackson.annotation.JsonInclude;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * Operator control of one concert's queue (access: auth.SecurityConfig, operators only). A policy is stored in the database and
 * cached in Redis (see {@link QueueStore#setPolicy}).
 */
@RestController
@RequestMapping("/api/v1/admin/queues")
class QueueAdminController {

    private final QueueService queue;
    private final QueueStore store;
    private final QueueMetrics metrics;
    private final QueueStreams streams;
    private final Clock clock;

    public QueueAdminController(QueueService queue, QueueStore store, QueueMetrics metrics, QueueStreams streams, Clock clock) {
        this.queue = queue;
        this.store = store;
        this.metrics = metrics;
        this.streams = streams;
        this.clock = clock;
    }

    /**
     * The SPEC fields, then what the operator console shows: how long the first in line has waited (null when
     * nobody waits), the estimated waits of the people in line at the 50th/90th/99th percentile of position and
     * of the last one (null while nothing moves), and the SSE streams of this concert open on the answering instance.
     */
    public record QueueView(long concertId, long waiting, long active, int admitPerTick, int maxActive,
                            long activeTtlSeconds, long waitingTimeoutSeconds, long admittedTotal,
                            double observedAdmissionsPerSecond, Long oldestWaitSeconds, WaitPercentiles estimatedWaitSeconds,
                            int openStreams) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record WaitPercentiles(Long p50, Long p90, Long p99, Long max) {}

    /** Both SPEC fields are required; the two time limits are optional per-concert extensions (seconds). */
    public record Policy(@NotNull @Min(0) @Max(1_000_000) Integer admitPerTick,
                         @NotNull @Min(0) @Max(10_000_000) Integer maxActive,
                         @Min(1) @Max(86_400) Long activeTtlSeconds,
                         @Min(1) @Max(86_400) Long waitingTimeoutSeconds) {}

    public record AdmitRequest(@NotNull @Min(1) @Max(1_000_000) Integer count) {}

    public record Admitted(long concertId, int admitted, long waiting, long active) {}

    @GetMapping("/{concertId}")
    public Mono<QueueView> view(@PathVariable @Positive long concertId) {
        return queue.requireConcert(concertId).then(Mono.defer(() -> view0(concertId)));
    }

    @PutMapping(path = "/{concertId}/policy", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<QueueView> policy(@PathVariable @Positive long concertId, @Valid @RequestBody Policy policy) {
        if (policy == null) {
            throw ApiException.validation("A policy body is required");
        }
        return queue.requireConcert(concertId)
                .then(Mono.defer(() -> store.setPolicy(concertId, policy.admitPerTick(), policy.maxActive(),
                        policy.activeTtlSeconds() == null ? null : policy.activeTtlSeconds() * 1000,
                        policy.waitingTimeoutSeconds() == null ? null : policy.waitingTimeoutSeconds() * 1000)))
                .then(Mono.defer(() -> view0(concertId)));
    }

    @PostMapping(path = "/{concertId}/admit", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<Admitted> admit(@PathVariable @Positive long concertId, @Valid @RequestBody AdmitRequest request) {
        return queue.requireConcert(concertId)
                .then(Mono.defer(() -> store.admitNow(concertId, request.count())))
                .doOnNext(metrics::record) // operator admissions count like scheduled ones
                .map(r -> new Admitted(concertId, r.admitted(), r.waiting(), r.active()));
    }

    private Mono<QueueView> view0(long concertId) {
        return store.view(concertId).zipWith(oldestJoinMs(concertId)).map(t -> {
            QueueStore.View v = t.getT1();
            long joined = t.getT2();
            Long oldest = v.waiting() == 0 || joined < 0 ? null : Math.max(0, clock.millis() - joined) / 1000;
            return new QueueView(concertId, v.waiting(), v.active(), v.admitPerTick(), v.maxActive(),
                    v.activeTtlMs() / 1000, v.waitTimeoutMs() / 1000, v.admittedTotal(), v.observedRate(), oldest,
                    percentiles(v), streams.openStreams(concertId));
        });
    }

    /** Join time of the first in line, -1 when nobody waits (or the entry predates time-ordered ids). */
    private Mono<Long> oldestJoinMs(long concertId) {
        return store.frontEntry(concertId).mapNotNull(QueueService::joinedAtMs).defaultIfEmpty(-1L);
    }

    private WaitPercentiles percentiles(QueueStore.View v) {
        return new WaitPercentiles(estimateAt(v, 0.50), estimateAt(v, 0.90), estimateAt(v, 0.99), estimateAt(v, 1.0));
    }

    /** The estimated wait of whoever stands at this fraction of the line (what that fan's page shows). */
    private Long estimateAt(QueueStore.View v, double fraction) {
        if (v.waiting() == 0) {
            return null;
        }
        long position = Math.max(1, (long) Math.ceil(v.waiting() * fraction));
        return queue.estimateSeconds(new QueueStore.EntryState(QueueStore.Kind.WAITING, position, null), v.observedRate(), v.admitPerTick());
    }
}
