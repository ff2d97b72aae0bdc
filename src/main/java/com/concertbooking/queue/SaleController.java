package com.concertbooking.queue;

import java.time.Duration;
import java.time.Instant;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.fasterxml.jackson.annotation.JsonInclude;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import org.springframework.http.CacheControl;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * A concert's sale schedule and fairness record (SPEC 3 row 18, SPEC 14), public; and the operator's move of the
 * times while the sale has not opened. The state is decided by Redis time on the node of the concert's queue, the
 * clock the queue's scripts decide by, so this page never disagrees with a join about whether the sale is open.
 */
@RestController
class SaleController {

    /** A move must leave this much time before the current and the new opening (Redis time), so the cache lands first. */
    static final Duration MIN_LEAD = Duration.ofSeconds(5);
    /** What the DATETIME(6) columns hold, kept to years a schedule can sensibly have (a typo is a 400, not a 500). */
    static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z"), LATEST = Instant.parse("9999-12-31T23:59:59Z");

    public enum State { SCHEDULED, PREQUEUE, OPEN }

    /**
     * {@code commitment} from the draw (when the pre-queue opens) on; {@code seed} and {@code cohortSize} once the
     * opening is recorded. A concert without a schedule was on sale from its creation: OPEN, without times.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record SaleView(long concertId, Instant prequeueOpensAt, Instant opensAt, State state, String commitment, String seed,
                           Long cohortSize, Instant openedAt, Instant serverTime) {}

    public record Schedule(@NotNull Instant opensAt, Instant prequeueOpensAt) {}

    private final QueueService queue;
    private final QueueStore store;
    private final Sales sales;

    SaleController(QueueService queue, QueueStore store, Sales sales) {
        this.queue = queue;
        this.store = store;
        this.sales = sales;
    }

    @GetMapping("/api/v1/concerts/{concertId}/sale")
    public Mono<ResponseEntity<SaleView>> sale(@PathVariable @Positive long concertId) {
        return queue.requireConcert(concertId)
                .then(Mono.defer(() -> store.clock(concertId).zipWith(sales.recent(concertId).map(java.util.Optional::of)
                        .defaultIfEmpty(java.util.Optional.empty()))))
                .flatMap(t -> {
                    Instant now = t.getT1();
                    if (t.getT2().isEmpty()) {
                        return Mono.just(new SaleView(concertId, null, null, State.OPEN, null, null, null, null, now));
                    }
                    Sales.Sale sale = t.getT2().get();
                    State state = sale.revealed() || !now.isBefore(sale.opensAt()) ? State.OPEN
                            : now.isBefore(sale.prequeueOpensAt()) ? State.SCHEDULED : State.PREQUEUE;
                    // The pre-queue is open: its commitment is published from now on (drawn here if nobody joined yet).
                    Mono<String> commitment = state == State.PREQUEUE && sale.commitment() == null
                            ? sales.draw(concertId).map(Sales.Drawn::commitment).doOnNext(c -> sales.changed(concertId))
                            : Mono.justOrEmpty(sale.commitment());
                    return commitment.map(java.util.Optional::of).defaultIfEmpty(java.util.Optional.empty())
                            .map(c -> view(sale, state, c.orElse(null), now));
                })
                .map(view -> ResponseEntity.ok().cacheControl(CacheControl.noCache()).body(view));
    }

    /**
     * Moves a sale that has not opened (SPEC 3): 409 SALE_ALREADY_OPEN once it has, when it opens within
     * {@link #MIN_LEAD}, or for a concert without a schedule (on sale since its creation).
     */
    @PutMapping(path = "/api/v1/admin/concerts/{concertId}/sale", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<SaleView> move(@PathVariable @Positive long concertId, @Valid @RequestBody Schedule schedule) {
        Instant opensAt = schedule.opensAt();
        Instant prequeueOpensAt = schedule.prequeueOpensAt(); // null: booking.sale.prequeue-window before (Sales.move)
        if (prequeueOpensAt != null && !prequeueOpensAt.isBefore(opensAt)) {
            return Mono.error(ApiException.validation("prequeueOpensAt must be before opensAt"));
        }
        if ((prequeueOpensAt != null && prequeueOpensAt.isBefore(EARLIEST)) || opensAt.isBefore(EARLIEST) || opensAt.isAfter(LATEST)) {
            return Mono.error(ApiException.validation("the times must lie between " + EARLIEST + " and " + LATEST));
        }
        return queue.requireConcert(concertId)
                .then(Mono.defer(() -> sales.load(concertId)))
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.SALE_ALREADY_OPEN,
                        "Concert %d has no schedule: it has been on sale since it was created", concertId)))
                .zipWith(Mono.defer(() -> store.clock(concertId)))
                .flatMap(t -> {
                    Sales.Sale before = t.getT1();
                    Instant now = t.getT2();
                    if (before.revealed()) {
                        return Mono.error(alreadyOpen(concertId));
                    }
                    if (!opensAt.isAfter(now.plus(MIN_LEAD))) {
                        return Mono.error(ApiException.validation("opensAt must be at least " + MIN_LEAD.toSeconds()
                                + " s ahead of the server's time " + now));
                    }
                    return sales.move(concertId, opensAt, prequeueOpensAt, now.plus(MIN_LEAD))
                            .switchIfEmpty(Mono.error(() -> alreadyOpen(concertId)))
                            .flatMap(moved -> store.cacheSale(concertId, moved).flatMap(written -> written == 2
                                    // Redis opened the sale at the old time meanwhile: the times stay as they were.
                                    ? sales.undoMove(before, moved.version()).then(Mono.error(alreadyOpen(concertId)))
                                    : Mono.just(moved)))
                            .doFinally(s -> sales.changed(concertId))
                            .map(moved -> view(moved, now.isBefore(moved.prequeueOpensAt()) ? State.SCHEDULED : State.PREQUEUE,
                                    moved.commitment(), now));
                });
    }

    private static ApiException alreadyOpen(long concertId) {
        return ApiException.of(ErrorCode.SALE_ALREADY_OPEN, "The sale of concert %d has opened (or opens within %d s): its times stay",
                concertId, MIN_LEAD.toSeconds());
    }

    private static SaleView view(Sales.Sale sale, State state, String commitment, Instant now) {
        boolean revealed = sale.revealed();
        return new SaleView(sale.concertId(), sale.prequeueOpensAt(), sale.opensAt(), state, commitment, revealed ? sale.seed() : null,
                revealed ? sale.cohortSize() : null, sale.openedAt(), now);
    }
}
