package com.concertbooking.catalog;

import java.time.Instant;
import java.util.List;

import com.concertbooking.auth.ActivePass;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.Positive;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

@RestController
@RequestMapping("/api/v1/concerts")
class CatalogController {

    private final CatalogStore store;
    private final CatalogCache cache;
    private final SeatMaps seatMaps;

    public CatalogController(CatalogStore store, CatalogCache cache, SeatMaps seatMaps) {
        this.store = store;
        this.cache = cache;
        this.seatMaps = seatMaps;
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
    @ApiResponse(responseCode = "200", content = @Content(mediaType = "application/json", schema = @Schema(implementation = UpcomingDates.class)))
    public Mono<ResponseEntity<byte[]>> dates(@PathVariable @Positive long concertId) {
        // Free-seat counts move with every hold: served from SeatMaps' per-concert snapshot (at most 1 s stale, SPEC 8).
        return seatMaps.datesJson(concertId)
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.CONCERT_NOT_FOUND, "Concert %d does not exist", concertId)))
                .map(CatalogController::json);
    }

    @GetMapping("/dates/{concertDateId}/seats")
    @ApiResponse(responseCode = "200", content = @Content(mediaType = "application/json", schema = @Schema(implementation = SeatMap.class)))
    public Mono<ResponseEntity<byte[]>> seats(@PathVariable @Positive long concertDateId, ActivePass pass,
                                              @RequestParam(defaultValue = "available") String status,
                                              @Parameter(hidden = true) // ordinary HTTP content negotiation, not an API parameter
                                              @RequestHeader(name = HttpHeaders.ACCEPT_ENCODING, required = false) String acceptEncoding) {
        boolean onlyFree = switch (status.toLowerCase()) {
            case "available" -> true;
            case "all" -> false;
            default -> throw ApiException.validation("status must be 'available' or 'all'");
        };
        // The date's pre-serialised map, shared by all its fans (SeatMaps): written as-is, never re-serialised;
        // gzipped once per version for clients that accept it (a 50,000-seat map is 4 MB of JSON, about 0.4 MB gzipped).
        boolean gzip = acceptsGzip(acceptEncoding);
        // The pass's concert is checked on the very date this answers with (SPEC 4.14).
        return seatMaps.seatMap(concertDateId)
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.CONCERT_DATE_NOT_FOUND, "Concert date %d does not exist", concertDateId)))
                .map(map -> {
                    pass.requireConcert(map.concertId());
                    return map.json(onlyFree, gzip);
                })
                .map(body -> ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON)
                        .header(HttpHeaders.VARY, HttpHeaders.ACCEPT_ENCODING)
                        .headers(h -> {
                            if (gzip) {
                                h.set(HttpHeaders.CONTENT_ENCODING, "gzip");
                            }
                        })
                        .body(body));
    }

    /** True when Accept-Encoding lists gzip (or *) without q=0. */
    static boolean acceptsGzip(String acceptEncoding) {
        if (acceptEncoding == null) {
            return false;
        }
        for (String part : acceptEncoding.split(",")) {
            String[] params = part.trim().split(";");
            String coding = params[0].trim().toLowerCase();
            if (coding.equals("gzip") || coding.equals("x-gzip") || coding.equals("*")) {
                boolean refused = false;
                for (int i = 1; i < params.length; i++) {
                    String p = params[i].replace(" ", "").toLowerCase();
                    refused |= p.matches("q=0(\\.0{0,3})?");
                }
                return !refused;
            }
        }
        return false;
    }

    /** Pre-built JSON: the byte[] encoder wraps the array without copying it. */
    private static ResponseEntity<byte[]> json(byte[] body) {
        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).body(body);
    }
}
