package com.concertbooking.catalog;

import java.time.Instant;
import java.time.LocalDateTime;
import java.util.List;

import com.concertbooking.support.TimeConfig;
import io.r2dbc.spi.Readable;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Repository;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Read side of concerts, dates and seats, straight from the database (SeatMaps keeps the display copies of seat availability). */
@Repository
public class CatalogStore {

    /** A seat is free when AVAILABLE, or HELD with a hold that has already run out (exact expiry). */
    public static final String SEAT_IS_FREE = "(s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= :now))";

    private final DatabaseClient db;

    public CatalogStore(DatabaseClient db) {
        this.db = db;
    }

    public record ConcertRow(long concertId, String name, String description) {}

    public record DateRow(long concertDateId, long concertId, Instant startsAt, String venue, int totalSeats) {}

    public record SeatRow(long seatId, int seatNumber, String grade, long price, String status) {}

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

    /**
     * Whether a concert has anything left to buy (SPEC 14 sold out): a seat free or held on a date that has not
     * started. One probe per date on ix_seat_date_status (AVAILABLE and HELD ranges), stopping at the first seat.
     */
    public Mono<Boolean> anySeatLeft(long concertId, Instant now) {
        return db.sql("SELECT 1 AS x FROM concert_date d JOIN seat s ON s.concert_date_id = d.id AND s.status IN ('AVAILABLE', 'HELD') "
                        + "WHERE d.concert_id = :concertId AND d.starts_at > :now LIMIT 1")
                .bind("concertId", concertId).bind("now", TimeConfig.toDb(now))
                .map(r -> true).one().defaultIfEmpty(false);
    }

    /** Free seats per date, for many dates in one query (no N+1). */
    public Flux<long[]> freeSeatCounts(List<Long> concertDateIds, Instant now) {
        if (concertDateIds.isEmpty()) {
            return Flux.empty();
        }
        return db.sql("SELECT s.concert_date_id, COUNT(*) AS n FROM seat s WHERE s.concert_date_id IN (:ids) AND "
                        + SEAT_IS_FREE + " GROUP BY s.concert_date_id")
                .bind("ids", concertDateIds)
                .bind("now", TimeConfig.toDb(now))
                .map(r -> new long[] {r.get("concert_date_id", Long.class), r.get("n", Long.class)})
                .all();
    }

    public Flux<SeatRow> seats(long concertDateId, boolean onlyFree, Instant now) {
        String sql = "SELECT s.id, s.seat_number, s.grade, s.price, CASE WHEN " + SEAT_IS_FREE
                + " THEN 'AVAILABLE' ELSE s.status END AS shown_status FROM seat s WHERE s.concert_date_id = :dateId"
                + (onlyFree ? " AND " + SEAT_IS_FREE : "") + " ORDER BY s.seat_number";
        return db.sql(sql)
                .bind("dateId", concertDateId)
                .bind("now", TimeConfig.toDb(now))
                .map(r -> new SeatRow(r.get("id", Long.class), r.get("seat_number", Integer.class), r.get("grade", String.class),
                        r.get("price", Long.class), r.get("shown_status", String.class)))
                .all();
    }
}
