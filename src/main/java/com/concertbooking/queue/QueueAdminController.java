package com.concertbooking.queue;

import java.time.Clock;

import java.time.Instant;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
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

    /** SPEC 3: the operator's message is at most this many characters (code points). */
    static final int MAX_MESSAGE = 280;

    private final QueueService queue;
    private final QueueStore store;
    private final QueueMetrics metrics;
    private final QueueStreams streams;
    private final QueueIds queueIds;
    private final WaitEstimates waits;
    private final Clock clock;

    public QueueAdminController(QueueService queue, QueueStore store, QueueMetrics metrics, QueueStreams streams, QueueIds queueIds,
                                WaitEstimates waits, Clock clock) {
        this.queue = queue;
        this.store = store;
        this.metrics = metrics;
        this.streams = streams;
        this.queueIds = queueIds;
        this.waits = waits;
        this.clock = clock;
    }

    /**
     * The SPEC fields, then what the operator console shows: how long the first in line has waited (null when
     * nobody waits), the estimated waits of the people in line at the 50th/90th/99th percentile of position and
     * of the last one (null while nothing moves), the SSE streams of this concert open on the answering instance,
     * whether admission moves, how many of a scheduled sale's pre-queue cohort still wait, sold out, and the message.
     */
    public record QueueView(long concertId, long waiting, long active, int admitPerTick, int maxActive,
                            long activeTtlSeconds, long waitingTimeoutSeconds, long admittedTotal,
                            double observedAdmissionsPerSecond, Long oldestWaitSeconds, WaitPercentiles estimatedWaitSeconds,
                            int openStreams, Admission admission, long cohortWaiting, boolean soldOut,
                            @JsonInclude(JsonInclude.Include.ALWAYS) String message) {}

    /** The operator's message to the queue's fans; null (or absent) clears it. */
    public record Message(String text) {}

    public record MessageView(long concertId, @JsonInclude(JsonInclude.Include.ALWAYS) String message) {}

    /** Support's view of one fan's entry, found by the queue ID the fan reads out (SPEC 3). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Entry(String queueId, long userId, QueueStore.Kind state, Long position, Instant joinedAt, Instant lastSeenAt,
                        Instant activeUntil) {}

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

    /** Posts (or with null clears) the message every fan of this queue sees: status bodies and {@code event: message}. */
    @PutMapping(path = "/{concertId}/message", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<MessageView> message(@PathVariable @Positive long concertId, @RequestBody Message body) {
        String text = body == null || body.text() == null ? null : body.text().strip();
        if (text != null && text.isEmpty()) {
            return Mono.error(ApiException.validation("text: must not be blank (send null to clear the message)"));
        }
        if (text != null && text.codePointCount(0, text.length()) > MAX_MESSAGE) {
            return Mono.error(ApiException.validation("text: at most " + MAX_MESSAGE + " characters"));
        }
        if (text != null && text.codePoints().anyMatch(c -> Character.isISOControl(c) && c != '\n')) {
            return Mono.error(ApiException.validation("text: control characters other than line breaks are not allowed"));
        }
        return queue.requireConcert(concertId)
                .then(Mono.defer(() -> store.setMessage(concertId, text)))
                .thenReturn(new MessageView(concertId, text));
    }

    /** Support: a fan's entry by the queue ID the fan reads out; 404 when that fan has no entry in this queue. */
    @GetMapping("/{concertId}/entries/{queueId}")
    public Mono<Entry> entry(@PathVariable @Positive long concertId, @PathVariable String queueId) {
        long userId = queueIds.userOf(concertId, queueId);
        if (userId <= 0) {
            return Mono.error(ApiException.validation("queueId: not a queue ID (10 characters of Crockford base32)"));
        }
        String canonical = queueIds.of(concertId, userId);
        return queue.requireConcert(concertId)
                .then(Mono.defer(() -> store.lookup(concertId, userId)))
                .switchIfEmpty(Mono.error(() -> new ApiException(ErrorCode.NOT_FOUND,
                        "Nobody holds queue ID " + canonical + " in the queue of concert " + concertId + " (left, dropped or done)")))
                .map(e -> {
                    Long joined = QueueService.joinedAtMs(e.entryId());
                    return new Entry(canonical, userId, e.kind(), e.position(), joined == null ? null : Instant.ofEpochMilli(joined),
                            e.lastSeenAt(), e.activeUntil());
                });
    }

    private Mono<QueueView> view0(long concertId) {
        return store.view(concertId).zipWith(oldestJoinMs(concertId)).map(t -> {
            QueueStore.View v = t.getT1();
            long joined = t.getT2();
            Long oldest = v.waiting() == 0 || joined < 0 ? null : Math.max(0, clock.millis() - joined) / 1000;
            Admission admission = Admission.of(v.admitPerTick(), v.maxActive(), v.active(), v.soldOut());
            return new QueueView(concertId, v.waiting(), v.active(), v.admitPerTick(), v.maxActive(),
                    v.activeTtlMs() / 1000, v.waitTimeoutMs() / 1000, v.admittedTotal(), waits.observedRate(concertId).orElse(0),
                    oldest, percentiles(concertId, v, admission), streams.openStreams(concertId), admission, v.cohortLeft(),
                    v.soldOut(), v.message());
        });
    }

    /** Join time of the first in line, -1 when nobody waits (or the entry predates time-ordered ids). */
    private Mono<Long> oldestJoinMs(long concertId) {
        return store.frontEntry(concertId).mapNotNull(QueueService::joinedAtMs).defaultIfEmpty(-1L);
    }

    private WaitPercentiles percentiles(long concertId, QueueStore.View v, Admission admission) {
        return new WaitPercentiles(estimateAt(concertId, v, admission, 0.50), estimateAt(concertId, v, admission, 0.90),
                estimateAt(concertId, v, admission, 0.99), estimateAt(concertId, v, admission, 1.0));
    }

    /** The estimated wait of whoever stands at this fraction of the line (what that fan's page shows). */
    private Long estimateAt(long concertId, QueueStore.View v, Admission admission, double fraction) {
        if (v.waiting() == 0) {
            return null;
        }
        long position = Math.max(1, (long) Math.ceil(v.waiting() * fraction));
        return waits.seconds(concertId, position, admission, v.admitPerTick());
    }
}
