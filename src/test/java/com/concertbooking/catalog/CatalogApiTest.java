package com.concertbooking.catalog;

import java.util.List;
import java.util.Map;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;

class CatalogApiTest extends IntegrationTest {

    @Autowired
    DatabaseClient db;

    @Autowired
    CatalogStore store;

    @Autowired
    SeatMaps seatMaps;

    @Test
    void concertsArePagedAndSizeIsCapped() {
        createConcert(5);
        createConcert(5);
        Map<?, ?> page = web.get().uri("/api/v1/concerts?page=0&size=1").exchange()
                .expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        assertThat((List<?>) page.get("content")).hasSize(1);
        assertThat(((Number) page.get("totalElements")).longValue()).isGreaterThanOrEqualTo(2);
        assertThat(((Number) page.get("totalPages")).longValue()).isEqualTo(((Number) page.get("totalElements")).longValue());

        web.get().uri("/api/v1/concerts?size=100").exchange().expectStatus().isOk();
        for (String bad : new String[] {"size=101", "size=0", "page=-1", "size=abc"}) {
            web.get().uri("/api/v1/concerts?" + bad).exchange().expectStatus().isBadRequest()
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
    }

    @Test
    void concertDetailListsItsDates() {
        CreatedConcert concert = createConcert(20, 10, 11);
        web.get().uri("/api/v1/concerts/{id}", concert.concertId()).exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.concertId").isEqualTo(concert.concertId())
                .jsonPath("$.dates.length()").isEqualTo(2)
                .jsonPath("$.dates[0].concertDateId").isEqualTo(concert.dateIds().get(0))
                .jsonPath("$.dates[0].totalSeats").isEqualTo(20);
        web.get().uri("/api/v1/concerts/{id}", Long.MAX_VALUE).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("CONCERT_NOT_FOUND");
    }

    @Test
    void datesShowOnlyUpcomingOnesWithFreeSeatCounts() {
        CreatedConcert concert = createConcert(30, -2, 5);
        long upcoming = concert.dateIds().get(1);
        // One sold seat, one seat whose hold already ran out (not yet swept), one held.
        db.sql("UPDATE seat SET status = 'SOLD' WHERE concert_date_id = :d AND seat_number = 1").bind("d", upcoming).fetch().rowsUpdated().block();
        db.sql("UPDATE seat SET status = 'HELD', held_until = '2000-01-01 00:00:00' WHERE concert_date_id = :d AND seat_number = 2")
                .bind("d", upcoming).fetch().rowsUpdated().block();
        db.sql("UPDATE seat SET status = 'HELD', held_until = '2999-01-01 00:00:00' WHERE concert_date_id = :d AND seat_number = 3")
                .bind("d", upcoming).fetch().rowsUpdated().block();
        // The seat owner's counts of the same changes (booking.SeatInventory writes them with the seats): the hold that
        // ran out is counted taken until the hold sweeper releases it (within a sweep interval; see SeatCountTest).
        db.sql("UPDATE seat_count SET free = free - 1, sold = sold + (slot = 1) WHERE concert_date_id = :d AND grade = 'VIP' AND slot IN (1, 2, 3)")
                .bind("d", upcoming).fetch().rowsUpdated().block();
        web.get().uri("/api/v1/concerts/{id}/dates", concert.concertId()).exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.dates.length()").isEqualTo(1)
                .jsonPath("$.dates[0].concertDateId").isEqualTo(upcoming)
                .jsonPath("$.dates[0].totalSeats").isEqualTo(30)
                .jsonPath("$.dates[0].availableSeats").isEqualTo(27);
        web.get().uri("/api/v1/concerts/{id}/dates", Long.MAX_VALUE).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("CONCERT_NOT_FOUND");
    }

    /**
     * The listing's exact bytes (it is written from pre-built JSON, not by the web layer's encoder): field order, dates
     * by start, an instant with a fraction, a venue name that needs escaping and one outside ASCII, and a concert whose
     * dates have all passed (an empty list, not a 404).
     */
    @Test
    void datesListingIsExactlyThisJson() {
        CreatedConcert concert = createConcert(12, -3, 9, 4); // listed by start, not by id
        long first = concert.dateIds().get(2);
        long second = concert.dateIds().get(1);
        String venue = "Hall \"Ω\" \\ caf\u00e9\t" + unique("x");
        db.sql("UPDATE venue v JOIN concert_date d ON d.venue_id = v.id SET v.name = :name WHERE d.id = :d").bind("name", venue)
                .bind("d", second).fetch().rowsUpdated().block();
        db.sql("UPDATE concert_date SET starts_at = starts_at + INTERVAL 123456 MICROSECOND WHERE id = :d").bind("d", first)
                .fetch().rowsUpdated().block();
        db.sql("UPDATE seat_count SET free = free - 2, sold = sold + 2 WHERE concert_date_id = :d AND grade = 'VIP' AND slot = 1")
                .bind("d", second).fetch().rowsUpdated().block();
        String expected = "{\"concertId\":" + concert.concertId() + ",\"dates\":["
                + "{\"concertDateId\":" + first + ",\"startsAt\":\"" + startsAt(first) + "\",\"venue\":\"" + venueOf(first)
                + "\",\"totalSeats\":12,\"availableSeats\":12},"
                + "{\"concertDateId\":" + second + ",\"startsAt\":\"" + startsAt(second) + "\",\"venue\":\"Hall \\\"Ω\\\" \\\\ café\\t"
                + venue.substring(venue.indexOf('\t') + 1) + "\",\"totalSeats\":12,\"availableSeats\":10}]}";
        assertThat(startsAt(first)).as("the fraction is kept").endsWith(".123456Z");
        assertThat(listing(concert.concertId())).isEqualTo(expected);

        CreatedConcert past = createConcert(3, -1);
        assertThat(listing(past.concertId())).isEqualTo("{\"concertId\":" + past.concertId() + ",\"dates\":[]}");
    }

    /** Several concerts' listings in one statement (ListingBatches): each concert's rows are its own; an unknown one has none. */
    @Test
    void oneStatementReadsTheListingsOfSeveralConcerts() {
        CreatedConcert two = createConcert(12, 9, 4);
        CreatedConcert none = createConcert(5, -1);
        CreatedConcert one = createConcert(5, 3);
        List<CatalogStore.ListingRow> rows = store.listings(List.of(two.concertId(), none.concertId(), one.concertId(), Long.MAX_VALUE),
                java.time.Instant.now()).collectList().block();
        Map<Long, List<CatalogStore.ListingRow>> byConcert = rows.stream().collect(java.util.stream.Collectors.groupingBy(CatalogStore.ListingRow::concertId));
        assertThat(byConcert).containsOnlyKeys(two.concertId(), none.concertId(), one.concertId());
        assertThat(byConcert.get(two.concertId()).stream().sorted(CatalogStore.START_ORDER).map(CatalogStore.ListingRow::concertDateId))
                .containsExactly(two.dateIds().get(1), two.dateIds().get(0));
        assertThat(byConcert.get(two.concertId())).allSatisfy(r -> {
            assertThat(r.freeSeats()).isEqualTo(12);
            assertThat(r.totalSeats()).isEqualTo(12);
            assertThat(r.venue()).startsWith("Hall");
        });
        assertThat(byConcert.get(none.concertId())).singleElement().extracting(CatalogStore.ListingRow::concertDateId).isEqualTo(0L);
        assertThat(byConcert.get(one.concertId())).singleElement().extracting(CatalogStore.ListingRow::concertDateId).isEqualTo(one.firstDateId());
    }

    /** Cold listings of many concerts at once (they may share statements): each fan gets the listing of the concert asked for. */
    @Test
    void concurrentColdListingsEachGetTheirOwnConcert() {
        List<CreatedConcert> concerts = new java.util.ArrayList<>();
        for (int i = 0; i < 24; i++) {
            concerts.add(createConcert(3, 1 + i % 5));
        }
        var client = racingClient();
        long before = seatMaps.listingStatements();
        List<String> bodies = reactor.core.publisher.Flux.fromIterable(concerts)
                .flatMapSequential(c -> client.get().uri("/api/v1/concerts/{id}/dates", c.concertId()).retrieve().bodyToMono(String.class), 24)
                .collectList().block(java.time.Duration.ofSeconds(60));
        long statements = seatMaps.listingStatements() - before;
        System.out.println("24 concurrent cold listings: " + statements + " statements");
        for (int i = 0; i < concerts.size(); i++) {
            CreatedConcert c = concerts.get(i);
            assertThat(bodies.get(i)).startsWith("{\"concertId\":" + c.concertId() + ",\"dates\":[{\"concertDateId\":" + c.firstDateId() + ",")
                    .endsWith("\"totalSeats\":3,\"availableSeats\":3}]}");
        }
        assertThat(statements).isBetween(1L, 24L);
    }

    /** A 404 is not remembered: a concert created right after its id was asked for is listed at once (no invalidation needed). */
    @Test
    void aConcertCreatedRightAfterA404IsListedAtOnce() {
        long next = db.sql("SELECT COALESCE(MAX(id), 0) FROM concert").map(r -> r.get(0, Long.class)).one().block() + 1;
        for (long id = next; id < next + 50; id++) {
            web.get().uri("/api/v1/concerts/{id}/dates", id).exchange()
                    .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("CONCERT_NOT_FOUND");
        }
        CreatedConcert created = createConcert(4, 3);
        assertThat(created.concertId()).as("an id that was just answered 404").isBetween(next, next + 49);
        assertThat(listing(created.concertId())).contains("\"concertDateId\":" + created.firstDateId() + ",");
    }

    private String listing(long concertId) {
        byte[] body = web.get().uri("/api/v1/concerts/{id}/dates", concertId).exchange().expectStatus().isOk()
                .expectHeader().contentType(org.springframework.http.MediaType.APPLICATION_JSON)
                .expectBody(byte[].class).returnResult().getResponseBody();
        return new String(body, java.nio.charset.StandardCharsets.UTF_8);
    }

    private String startsAt(long dateId) {
        return db.sql("SELECT starts_at FROM concert_date WHERE id = :d").bind("d", dateId)
                .map(r -> com.concertbooking.support.TimeConfig.fromDb(r.get(0, java.time.LocalDateTime.class)).toString()).one().block();
    }

    private String venueOf(long dateId) {
        return db.sql("SELECT v.name FROM venue v JOIN concert_date d ON d.venue_id = v.id WHERE d.id = :d").bind("d", dateId)
                .map(r -> r.get(0, String.class)).one().block();
    }

    @Test
    void adminChangesInvalidateTheCachedConcertList() {
        // Warm the cache, then add a concert: the list must show it at once.
        long before = total();
        createConcert(3);
        assertThat(total()).isEqualTo(before + 1);
    }

    private long total() {
        Map<?, ?> page = web.get().uri("/api/v1/concerts?size=1").exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) page.get("totalElements")).longValue();
    }
}
