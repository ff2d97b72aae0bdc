package com.concertbooking.catalog;

import com.concertbooking.auth.ActivePass;
import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;

/** Seat map shape and availability rules, independent of the token guard (which has its own tests). */
class SeatMapApiTest extends IntegrationTest {

    @Autowired
    DatabaseClient db;

    @Autowired
    CatalogController catalog;

    @Autowired
    tools.jackson.databind.ObjectMapper json;

    /** The route's pre-serialised body, decoded (queue passes are tested elsewhere). */
    private CatalogController.SeatMap seats(CreatedConcert concert, String status) {
        var response = catalog.seats(concert.firstDateId(), pass(concert.concertId()), status, null, null).block();
        assertThat(response.getHeaders().getContentType()).hasToString("application/json");
        return json.readValue(response.getBody(), CatalogController.SeatMap.class);
    }

    @Test
    void seatsAreInSeatNumberOrderAndExpiredHoldsAreAvailable() {
        CreatedConcert concert = createConcert(15);
        long date = concert.firstDateId();
        db.sql("UPDATE seat SET status = 'SOLD' WHERE concert_date_id = :d AND seat_number = 4").bind("d", date).fetch().rowsUpdated().block();
        db.sql("UPDATE seat SET status = 'HELD', held_until = '2000-01-01 00:00:00' WHERE concert_date_id = :d AND seat_number = 5")
                .bind("d", date).fetch().rowsUpdated().block();

        CatalogController.SeatMap available = seats(concert, "available");
        assertThat(available.concertDateId()).isEqualTo(date);
        assertThat(available.seats()).extracting(CatalogController.SeatView::seatNumber)
                .hasSize(14).isSorted().doesNotContain(4).contains(5);
        assertThat(available.seats()).allMatch(s -> s.status().equals("AVAILABLE"));
        assertThat(available.seats().get(0).grade()).isEqualTo("VIP");
        assertThat(available.seats().get(0).price()).isEqualTo(150_000);
        assertThat(available.seats().get(14 - 1).grade()).isEqualTo("R");

        CatalogController.SeatMap all = seats(concert, "all");
        assertThat(all.seats()).hasSize(15);
        assertThat(all.seats().get(3).status()).isEqualTo("SOLD");
        assertThat(all.seats().get(4).status()).isEqualTo("AVAILABLE");
    }

    @Test
    void unknownDateAndBadStatus() {
        assertThat(catchCode(() -> catalog.seats(Long.MAX_VALUE, pass(1), "all", null, null).block())).isEqualTo("CONCERT_DATE_NOT_FOUND");
        assertThat(catchCode(() -> catalog.seats(1, pass(1), "sold", null, null).block())).isEqualTo("VALIDATION_FAILED");
        // An ACTIVE pass is good for the dates of its own concert only.
        CreatedConcert concert = createConcert(3);
        assertThat(catchCode(() -> catalog.seats(concert.firstDateId(), pass(concert.concertId() + 1), "all", null, null).block()))
                .isEqualTo("FORBIDDEN");
    }

    @Test
    void gzipIsServedOnlyWhenAccepted() {
        assertThat(CatalogController.acceptsGzip(null)).isFalse();
        assertThat(CatalogController.acceptsGzip("")).isFalse();
        assertThat(CatalogController.acceptsGzip("identity")).isFalse();
        assertThat(CatalogController.acceptsGzip("gzip")).isTrue();
        assertThat(CatalogController.acceptsGzip("br, GZIP;q=0.8, deflate")).isTrue();
        assertThat(CatalogController.acceptsGzip("*")).isTrue();
        assertThat(CatalogController.acceptsGzip("gzip;q=0")).isFalse();
        assertThat(CatalogController.acceptsGzip("gzip; q=0.000, br")).isFalse();
    }

    private static ActivePass pass(long concertId) {
        return new ActivePass(1, concertId, "entry");
    }

    private static String catchCode(Runnable call) {
        try {
            call.run();
            return "none";
        } catch (com.concertbooking.support.ApiException e) {
            return e.code().name();
        }
    }
}
