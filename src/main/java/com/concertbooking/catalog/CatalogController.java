package com.concertbooking.catalog;

import java.time.Instant;
import java.util.List;

import com.concertbooking.auth.ActivePass;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.Ids;
import java.time.Duration;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpStatus;
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
    private final SeatAvailability availability;

    public CatalogController(CatalogStore store, CatalogCache cache, SeatMaps seatMaps, SeatAvailability availability) {
        this.store = store;
        this.cache = cache;
        this.seatMaps = seatMaps;
        this.availability = availability;
    }

    /** Grades as the admin API accepts them. */
    private static final java.util.regex.Pattern GRADE = java.util.regex.Pattern.compile("[A-Za-z0-9_-]{1,20}");

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
                                              @Parameter(description = "only the seats of this grade") @RequestParam(required = false) String grade,
                                              @Parameter(hidden = true) // ordinary HTTP content negotiation, not an API parameter
                                              @RequestHeader(name = HttpHeaders.ACCEPT_ENCODING, required = false) String acceptEncoding) {
        boolean onlyFree = switch (status.toLowerCase()) {
            case "available" -> true;
            case "all" -> false;
            default -> throw ApiException.validation("status must be 'available' or 'all'");
        };
        if (grade != null && !GRADE.matcher(grade).matches()) {
            throw ApiException.validation("grade must be 1-20 letters, digits, '_' or '-'");
        }
        // The date's pre-serialised map, shared by all its fans (SeatMaps): written as-is, never re-serialised;
        // gzipped once per version for clients that accept it (a 50,000-seat map is 4 MB of JSON, about 0.4 MB gzipped).
        // One grade is built per request from the seats in memory.
        boolean gzip = acceptsGzip(acceptEncoding);
        // The pass's concert is checked on the very date this answers with (SPEC 4.14).
        return (grade == null ? seatMaps.seatMap(concertDateId) : seatMaps.seatMapOfGrade(concertDateId, grade))
                .switchIfEmpty(Mono.error(() -> dateNotFound(concertDateId)))
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

    /**
     * SPEC 8: the date's seats, grades and prices, which never change once sold: public, cached for a day by
     * browsers and shared caches, revalidated by its ETag ({@code If-None-Match} gives 304). Body:
     * {@code {"concertDateId","concertId","seatCount","grades":[..],"blocks":[[firstSeat,lastSeat,gradeIndex,price],..]}}.
     */
    @GetMapping("/dates/{concertDateId}/layout")
    public Mono<ResponseEntity<byte[]>> layout(@PathVariable @Positive long concertDateId,
                                               @Parameter(hidden = true) @RequestHeader(name = HttpHeaders.IF_NONE_MATCH, required = false) String ifNoneMatch) {
        return availability.date(concertDateId)
                .switchIfEmpty(Mono.error(() -> dateNotFound(concertDateId)))
                .map(date -> {
                    CacheControl cache = CacheControl.maxAge(Duration.ofDays(1)).cachePublic();
                    if (matches(ifNoneMatch, date.layoutEtag)) {
                        return ResponseEntity.status(HttpStatus.NOT_MODIFIED).eTag(date.layoutEtag).cacheControl(cache).<byte[]>build();
                    }
                    return ResponseEntity.ok().eTag(date.layoutEtag).cacheControl(cache).contentType(MediaType.APPLICATION_JSON).body(date.layoutJson);
                });
    }

    /**
     * SPEC 8: which seats are free now, as a bit set (see SeatAvailability.DateSeats#full), versioned: the ETag is the
     * version, {@code If-None-Match} gives 304, and {@code ?since=<version>} gives only the seats that changed since
     * then, or the full document with {@code "full": true} when that version cannot be answered with changes (too
     * old, not known here, or the changes would be longer). Version 0 means unversioned (Redis unreachable): no ETag.
     */
    @GetMapping("/dates/{concertDateId}/availability")
    public Mono<ResponseEntity<byte[]>> availability(@PathVariable @Positive long concertDateId, ActivePass pass,
                                                     @Parameter(description = "a version this client has") @RequestParam(required = false) String since,
                                                     @Parameter(hidden = true) @RequestHeader(name = HttpHeaders.IF_NONE_MATCH, required = false) String ifNoneMatch) {
        long sinceVersion = since == null ? -1 : Ids.whole(since, Long.MAX_VALUE);
        if (since != null && sinceVersion < 0) {
            throw ApiException.validation("since must be a version: a whole number written in canonical decimal");
        }
        return availability.date(concertDateId)
                .switchIfEmpty(Mono.error(() -> dateNotFound(concertDateId)))
                .map(date -> {
                    pass.requireConcert(date.concertId);
                    long version = date.version();
                    String etag = version == 0 ? null : "\"" + version + "\"";
                    if (etag != null && matches(ifNoneMatch, etag)) {
                        return ResponseEntity.status(HttpStatus.NOT_MODIFIED).eTag(etag).cacheControl(CacheControl.noCache().cachePrivate()).<byte[]>build();
                    }
                    byte[] body = sinceVersion < 0 ? null : date.delta(sinceVersion);
                    if (body == null) {
                        body = date.full();
                        if (sinceVersion >= 0) {
                            body = withFull(body);
                        }
                    }
                    var builder = ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).cacheControl(CacheControl.noCache().cachePrivate());
                    if (etag != null) {
                        builder.eTag(etag);
                    }
                    return builder.body(body);
                });
    }

    /** The full document marked as the answer to a {@code since} it could not answer with changes. */
    private static byte[] withFull(byte[] full) {
        byte[] out = java.util.Arrays.copyOf(full, full.length + 12);
        byte[] tail = ",\"full\":true}".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(tail, 0, out, full.length - 1, tail.length);
        return java.util.Arrays.copyOf(out, full.length - 1 + tail.length);
    }

    /** If-None-Match: a list of entity tags (weak ones compare by their opaque part) or {@code *}. */
    static boolean matches(String ifNoneMatch, String etag) {
        if (ifNoneMatch == null || ifNoneMatch.length() > 1000) {
            return false;
        }
        for (String tag : ifNoneMatch.split(",")) {
            String t = tag.trim();
            if (t.startsWith("W/")) {
                t = t.substring(2);
            }
            if (t.equals("*") || t.equals(etag)) {
                return true;
            }
        }
        return false;
    }

    private static ApiException dateNotFound(long concertDateId) {
        return ApiException.of(ErrorCode.CONCERT_DATE_NOT_FOUND, "Concert date %d does not exist", concertDateId);
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
