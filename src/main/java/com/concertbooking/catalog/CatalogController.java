package com.concertbooking.catalog;

import java.time.Clock;
import java.time.Instant;
import java.util.List;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.Positive;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

@RestController
@RequestMapping("/api/v1/concerts")
public class CatalogController {

    private final CatalogStore store;
    private final CatalogCache cache;
    private final Clock clock;

    public CatalogController(CatalogStore store, CatalogCache cache, Clock clock) {
        this.store = store;
        this.cache = cache;
        this.clock = clock;
    }

    public record ConcertSummary(long concertId, String name, String description) {}

    public record ConcertPage(List<ConcertSummary> content, int page, int size, long totalElements, long totalPages) {}

    public record DateView(long concertDateId, Instant startsAt, String venue, int totalSeats) {}

    public record ConcertDetail(long concertId, String name, String description, List<DateView> dates) {}

    public record DateAvailability(long concertDateId, Instant startsAt, String venue, int totalSeats, long availableSeats) {}

    public record UpcomingDates(long concertId, List<DateAvailability> dates) {}

    public record SeatView(long seatId, int seatNumber, String grade, long price, String status) {}

    public record SeatMap(long concertDateId, List<SeatView> seats) {}

    @GetMapping
    public Mono<ConcertPage> concerts(@RequestParam(defaultValue = "0") @Min(0) @Max(100_000) int page,
                                      @RequestParam(defaultValue = "20") @Min(1) @Max(100) int size) {
        return cache.get("concerts:" + page + ":" + size, ConcertPage.class, () ->
                store.countConcerts().zipWith(store.concerts(page, size)
                                .map(c -> new ConcertSummary(c.concertId(), c.name(), c.description())).collectList())
                        .map(t -> new ConcertPage(t.getT2(), page, size, t.getT1(), (t.getT1() + size - 1) / size)));
    }

    @GetMapping("/{concertId}")
    public Mono<ConcertDetail> concert(@PathVariable @Positive long concertId) {
        return cache.get("concert:" + concertId, ConcertDetail.class, () ->
                store.concert(concertId)
                        .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.CONCERT_NOT_FOUND, "Concert %d does not exist", concertId)))
                        .zipWith(store.dates(concertId, null)
                                .map(d -> new DateView(d.concertDateId(), d.startsAt(), d.venue(), d.totalSeats())).collectList())
                        .map(t -> new ConcertDetail(t.getT1().concertId(), t.getT1().name(), t.getT1().description(), t.getT2())));
    }

    @GetMapping("/{concertId}/dates")
    public Mono<UpcomingDates> dates(@PathVariable @Positive long concertId) {
        // Counts of free seats move with every hold: served fresh from the database (index on (concert_date_id, status)).
        Instant now = clock.instant();
        return store.concert(concertId)
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.CONCERT_NOT_FOUND, "Concert %d does not exist", concertId)))
                .flatMap(c -> store.dates(concertId, now).collectList())
                .flatMap(dates -> store.freeSeatCounts(dates.stream().map(CatalogStore.DateRow::concertDateId).toList(), now)
                        .collectMap(row -> row[0], row -> row[1])
                        .map(free -> new UpcomingDates(concertId, dates.stream()
                                .map(d -> new DateAvailability(d.concertDateId(), d.startsAt(), d.venue(), d.totalSeats(),
                                        free.getOrDefault(d.concertDateId(), 0L)))
                                .toList())));
    }

    @GetMapping("/dates/{concertDateId}/seats")
    public Mono<SeatMap> seats(@PathVariable @Positive long concertDateId,
                               @RequestParam(defaultValue = "available") String status) {
        boolean onlyFree = switch (status.toLowerCase()) {
            case "available" -> true;
            case "all" -> false;
            default -> throw ApiException.validation("status must be 'available' or 'all'");
        };
        Instant now = clock.instant();
        return store.date(concertDateId)
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.CONCERT_DATE_NOT_FOUND, "Concert date %d does not exist", concertDateId)))
                .flatMap(d -> store.seats(concertDateId, onlyFree, now)
                        .map(s -> new SeatView(s.seatId(), s.seatNumber(), s.grade(), s.price(), s.status()))
                        .collectList())
                .map(seats -> new SeatMap(concertDateId, seats));
    }
}
