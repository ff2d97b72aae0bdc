package com.concertbooking.catalog;

import java.time.Instant;
import java.time.LocalDateTime;
import java.util.List;

import com.concertbooking.queue.ConcertFacts;
import com.concertbooking.support.TimeConfig;
import io.r2dbc.spi.Readable;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Read side of concerts, dates, seats and free-seat counts, straight from the database (SeatAvailability and SeatMaps keep the display copies). */
@Repository
public class CatalogStore implements ConcertFacts {

    private final DatabaseClient db;

    public CatalogStore(DatabaseClient db) {
        this.db = db;
    }

    public record ConcertRow(long concertId, String name, String description) {}

    public record DateRow(long concertDateId, long concertId, Instant startsAt, String venue, int totalSeats) {}

    private static final String DATE_COLUMNS =
            "d.id, d.concert_id, d.starts_at, v.name AS venue, d.total_seats FROM concert_date d JOIN venue v ON v.id = d.venue_id";

    private static ConcertRow concertRow(Readable r) {
        return new ConcertRow(r.get("id", Long.class), r.get("name", String.class), r.get("description", String.class));
    }

    private static DateRow dateRow(Readable r) {
        return new DateRow(r.get("id", Long.class), r.get("concert_id", Long.class),
                TimeConfig.fromDb(r.get("starts_at", LocalDateTime.class)), r.get("venue", String.class),
                r.get("total_seats", Integer.class));
    }

    public Mono<Long> countConcerts() {
        return db.sql("SELECT COUNT(*) AS n FROM concert").map(r -> r.get("n", Long.class)).one();
    }

    public Flux<ConcertRow> concerts(int page, int size) {
        return db.sql("SELECT id, name, description FROM concert ORDER BY id LIMIT :limit OFFSET :offset")
                .bind("limit", size)
                .bind("offset", (long) page * size)
                .map(CatalogStore::concertRow)
                .all();
    }

    public Mono<ConcertRow> concert(long concertId) {
        return db.sql("SELECT id, name, description FROM concert WHERE id = :id")
                .bind("id", concertId)
                .map(CatalogStore::concertRow)
                .one();
    }

    public Flux<DateRow> dates(long concertId, Instant from) {
        return db.sql("SELECT " + DATE_COLUMNS + " WHERE d.concert_id = :concertId AND d.starts_at >= :from ORDER BY d.starts_at, d.id")
                .bind("concertId", concertId)
                .bind("from", TimeConfig.toDb(from == null ? Instant.EPOCH : from))
                .map(CatalogStore::dateRow)
                .all();
    }

    public Mono<DateRow> date(long concertDateId) {
        return db.sql("SELECT " + DATE_COLUMNS + " WHERE d.id = :id")
                .bind("id", concertDateId)
                .map(CatalogStore::dateRow)
                .one();
    }

    @Override
    public Mono<Boolean> concertExists(long concertId) {
        return concert(concertId).hasElement();
    }

    /**
     * Whether a concert has anything left to buy (SPEC 14 sold out): a seat not sold (free or held) on a date that has
     * not started. Reads the seat owner's counts (seat_count), not the seats: at most a few rows per date.
     */
    @Override
    public Mono<Boolean> anySeatLeft(long concertId, Instant now) {
        return db.sql("SELECT 1 AS x FROM concert_date d JOIN seat_count c ON c.concert_date_id = d.id AND c.seats > c.sold "
                        + "WHERE d.concert_id = :concertId AND d.starts_at > :now LIMIT 1")
                .bind("concertId", concertId).bind("now", TimeConfig.toDb(now))
                .map(r -> true).one().defaultIfEmpty(false);
    }

    /**
     * Free seats per date, for many dates in one query (no N+1), from the seat owner's counts: a few rows per date and
     * grade, never the seats. A hold that ran out counts as free once the hold sweeper has released it (booking.SeatInventory).
     */
    public Flux<long[]> freeSeatCounts(List<Long> concertDateIds) {
        if (concertDateIds.isEmpty()) {
            return Flux.empty();
        }
        return db.sql("SELECT concert_date_id, SUM(free) AS n FROM seat_count WHERE concert_date_id IN (:ids) GROUP BY concert_date_id")
                .bind("ids", concertDateIds)
                .map(r -> new long[] {r.get("concert_date_id", Long.class), ((Number) r.get("n")).longValue()})
                .all();
    }

    /**
     * One row of a concert's dates listing: the concert (always), and one of its upcoming dates with its venue, size and
     * free seats ({@code concertDateId} 0 and the rest empty in the one row of a concert with no upcoming date).
     */
    record ListingRow(long concertId, long concertDateId, Instant startsAt, String venue, int totalSeats, long freeSeats) {}

    /**
     * Each concert (LEFT JOIN: a concert without upcoming dates still gives its one row; an unknown one gives none) with
     * its upcoming dates (a range of ix_concert_date_concert), each with its venue and its free seats summed from the
     * seat owner's counts (a few rows per date and grade, never the seats): whole dates listings, of one concert or of
     * several (ListingBatches), in one statement. No ORDER BY: with the concert joined first, MariaDB would sort these
     * few rows through a temporary table; the caller sorts them ({@link #START_ORDER}). Columns are read by position.
     */
    private static final String LISTING = "SELECT c.id, d.id, d.starts_at, v.name, d.total_seats,"
            + " (SELECT CAST(SUM(s.free) AS SIGNED) FROM seat_count s WHERE s.concert_date_id = d.id)"
            + " FROM concert c LEFT JOIN (concert_date d JOIN venue v ON v.id = d.venue_id) ON d.concert_id = c.id AND d.starts_at >= :from"
            + " WHERE c.id IN (:ids)";

    /** The listing's order: by start, then by date id (as {@link #dates}). */
    static final java.util.Comparator<ListingRow> START_ORDER = (a, b) -> {
        int byStart = a.startsAt().compareTo(b.startsAt());
        return byStart != 0 ? byStart : Long.compare(a.concertDateId(), b.concertDateId());
    };

    /**
     * The dates listings of these concerts (see {@link ListingRow}), in no particular order; no row for a concert that
     * does not exist.
     */
    Flux<ListingRow> listings(java.util.Collection<Long> concertIds, Instant from) {
        if (concertIds.isEmpty()) {
            return Flux.empty();
        }
        return db.sql(LISTING)
                .bind("ids", concertIds)
                .bind("from", TimeConfig.toDb(from))
                .map(CatalogStore::listingRow)
                .all();
    }

    private static ListingRow listingRow(Readable r) {
        long concertId = r.get(0, Long.class);
        Long dateId = r.get(1, Long.class);
        if (dateId == null) {
            return new ListingRow(concertId, 0, null, null, 0, 0);
        }
        Long free = r.get(5, Long.class);
        return new ListingRow(concertId, dateId, TimeConfig.fromDb(r.get(2, LocalDateTime.class)), r.get(3, String.class),
                r.get(4, Integer.class), free == null ? 0 : free);
    }

    /** A seat of a date as stored: its immutable facts and its raw state (interpreted by SeatAvailability). */
    record SeatState(long seatId, int seatNumber, String grade, long price, String status, Instant heldUntil, long reservationId) {}

    /** Every seat of a date in seat-number order (one read when a date's availability is first needed, or resynchronised). */
    Flux<SeatState> seatStates(long concertDateId) {
        return db.sql("SELECT id, seat_number, grade, price, status, held_until, reservation_id FROM seat WHERE concert_date_id = :dateId "
                        + "ORDER BY seat_number")
                .bind("dateId", concertDateId)
                .map(r -> {
                    Long reservation = r.get("reservation_id", Long.class);
                    return new SeatState(r.get("id", Long.class), r.get("seat_number", Integer.class), r.get("grade", String.class),
                            r.get("price", Long.class), r.get("status", String.class),
                            TimeConfig.fromDb(r.get("held_until", LocalDateTime.class)), reservation == null ? 0 : reservation);
                })
                .all();
    }
}
