package com.concertbooking.admin;

import java.time.Instant;
import java.util.List;

import com.concertbooking.booking.SeatInventory;
import com.concertbooking.catalog.CatalogCache;
import com.concertbooking.queue.QueueService;
import com.concertbooking.support.TimeConfig;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Creates a concert with its dates, venues and numbered seats in one transaction. */
@Service
class ConcertAdmin {

    public record SeatBlock(@NotBlank @Pattern(regexp = "[A-Za-z0-9_-]{1,20}", message = "must be 1-20 letters, digits, '_' or '-'") String grade,
                            @NotNull @Min(0) @Max(10_000_000) Long price,
                            @NotNull @Min(1) @Max(100_000) Integer count) {}

    public record DateSpec(@NotNull Instant startsAt,
                           @NotBlank @Size(max = 200) String venue,
                           @NotEmpty @Size(max = 20) List<@Valid @NotNull SeatBlock> seats) {

        /** The column holds years 1000-9999; a show outside 2000-9999 is a typo, and must be a 400, not a database error. */
        @AssertTrue(message = "must be between 2000-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
        boolean isStartsAtInRange() {
            return startsAt == null || (!startsAt.isBefore(EARLIEST) && !startsAt.isAfter(LATEST));
        }
    }

    static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z");
    static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");

    /**
     * A scheduled sale (SPEC 14): the pre-queue opens at {@code prequeueOpensAt} (default: {@code opensAt} minus
     * booking.sale.prequeue-window), the sale at {@code opensAt}, which must lie ahead.
     */
    public record SaleSpec(@NotNull Instant opensAt, Instant prequeueOpensAt) {

        @AssertTrue(message = "must be in the future, and after prequeueOpensAt")
        boolean isOpensAtValid() {
            return opensAt == null || (opensAt.isAfter(Instant.now()) && !opensAt.isAfter(LATEST)
                    && (prequeueOpensAt == null || prequeueOpensAt.isBefore(opensAt)));
        }

        @AssertTrue(message = "must be between 2000-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
        boolean isPrequeueOpensAtInRange() {
            return prequeueOpensAt == null || (!prequeueOpensAt.isBefore(EARLIEST) && !prequeueOpensAt.isAfter(LATEST));
        }
    }

    /**
     * Without {@code sale} the concert is on sale at once, in arrival order. {@code maxTicketsPerUser}: held plus paid
     * seats per user of this concert (SPEC 4.13; default booking.reservation.max-tickets-per-user).
     */
    public record CreateConcert(@NotBlank @Size(max = 200) String name,
                                @Size(max = 2000) String description,
                                @NotEmpty @Size(max = 100) List<@Valid @NotNull DateSpec> dates,
                                @Valid SaleSpec sale,
                                @Min(1) @Max(100) Integer maxTicketsPerUser) {

        public CreateConcert(String name, String description, List<DateSpec> dates) {
            this(name, description, dates, null, null);
        }
    }

    public record CreatedDate(long concertDateId, Instant startsAt, String venue, int totalSeats) {}

    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
    public record CreatedConcert(long concertId, String name, List<CreatedDate> dates, QueueService.SaleTimes sale, Integer maxTicketsPerUser) {}

    private final DatabaseClient db;
    private final TransactionalOperator tx;
    private final CatalogCache cache;
    private final SeatInventory seats;
    private final QueueService queue;

    public ConcertAdmin(DatabaseClient db, TransactionalOperator tx, CatalogCache cache, SeatInventory seats, QueueService queue) {
        this.db = db;
        this.tx = tx;
        this.cache = cache;
        this.seats = seats;
        this.queue = queue;
    }

    public Mono<CreatedConcert> create(CreateConcert request) {
        var insert = db.sql("INSERT INTO concert (name, description, max_tickets_per_user) VALUES (:name, :description, :max)")
                .bind("name", request.name().strip())
                .bind("description", request.description() == null ? "" : request.description().strip());
        insert = request.maxTicketsPerUser() == null ? insert.bindNull("max", Integer.class) : insert.bind("max", request.maxTicketsPerUser());
        Mono<CreatedConcert> work = insert
                .filter(s -> s.returnGeneratedValues("id"))
                .map(r -> r.get("id", Long.class)).one()
                // The sale's schedule is the queue's (it decides the opening); its row commits with the concert.
                .flatMap(concertId -> (request.sale() == null ? Mono.just(java.util.Optional.<QueueService.SaleTimes>empty())
                                : queue.scheduleSale(concertId, request.sale().opensAt(), request.sale().prequeueOpensAt()).map(java.util.Optional::of))
                        .flatMap(sale -> Flux.fromIterable(request.dates()).concatMap(date -> createDate(concertId, date))
                                .collectList()
                                .map(dates -> new CreatedConcert(concertId, request.name().strip(), dates, sale.orElse(null),
                                        request.maxTicketsPerUser()))));
        return work.as(tx::transactional).flatMap(created -> cache.invalidateAll().thenReturn(created));
    }

    private Mono<CreatedDate> createDate(long concertId, DateSpec date) {
        int total = date.seats().stream().mapToInt(SeatBlock::count).sum();
        String venue = date.venue().strip();
        return venueId(venue)
                .flatMap(venueId -> db.sql("INSERT INTO concert_date (concert_id, venue_id, starts_at, total_seats) VALUES (:c, :v, :s, :t)")
                        .bind("c", concertId).bind("v", venueId).bind("s", TimeConfig.toDb(date.startsAt())).bind("t", total)
                        .filter(s -> s.returnGeneratedValues("id"))
                        .map(r -> r.get("id", Long.class)).one())
                // Seats have one owner (SeatInventory): it numbers and inserts them and announces the new date's seats.
                .flatMap(dateId -> seats.create(dateId, date.seats().stream()
                                .map(b -> new SeatInventory.SeatRun(b.grade(), b.price(), b.count())).toList())
                        .thenReturn(new CreatedDate(dateId, date.startsAt(), venue, total)));
    }

    private Mono<Long> venueId(String name) {
        // LAST_INSERT_ID(id) makes the existing row's id the generated key when the venue already exists.
        return db.sql("INSERT INTO venue (name) VALUES (:name) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)")
                .bind("name", name)
                .filter(s -> s.returnGeneratedValues("id"))
                .map(r -> r.get("id", Long.class)).one();
    }

}
