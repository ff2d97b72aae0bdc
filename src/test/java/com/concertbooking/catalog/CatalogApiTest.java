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
