package com.concertbooking.admin;

import java.util.List;
import java.util.Map;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;

import static org.assertj.core.api.Assertions.assertThat;

class AdminApiTest extends IntegrationTest {

    @Autowired
    DatabaseClient db;

    @Test
    void createsAConcertWithDatesAndNumberedSeats() {
        var request = Map.of("name", "Opening Night", "description", "first show", "dates", List.of(
                Map.of("startsAt", "2030-12-24T19:00:00Z", "venue", unique("Arena"), "seats", List.of(
                        Map.of("grade", "VIP", "price", 150000, "count", 3),
                        Map.of("grade", "R", "price", 90000, "count", 1200)))));
        Map<?, ?> created = admin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON).bodyValue(request)
                .exchange().expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        assertThat(created.get("name")).isEqualTo("Opening Night");
        Map<?, ?> date = (Map<?, ?>) ((List<?>) created.get("dates")).get(0);
        assertThat(date.get("totalSeats")).isEqualTo(1203);
        assertThat(date.get("startsAt")).isEqualTo("2030-12-24T19:00:00Z");
        long dateId = ((Number) date.get("concertDateId")).longValue();

        List<Map<String, Object>> seats = db.sql("SELECT seat_number, grade, price, status FROM seat WHERE concert_date_id = :d ORDER BY seat_number")
                .bind("d", dateId).fetch().all().collectList().block();
        assertThat(seats).hasSize(1203);
        assertThat(seats.get(0)).containsEntry("grade", "VIP").containsEntry("price", 150000L).containsEntry("status", "AVAILABLE");
        assertThat(seats.get(2)).containsEntry("seat_number", 3).containsEntry("grade", "VIP");
        assertThat(seats.get(3)).containsEntry("seat_number", 4).containsEntry("grade", "R").containsEntry("price", 90000L);
        assertThat(seats.get(1202)).containsEntry("seat_number", 1203);
    }

    @Test
    void sameVenueNameIsOneVenue() {
        String venue = unique("Dome");
        var date = Map.of("startsAt", "2031-01-01T10:00:00Z", "venue", venue, "seats", List.of(Map.of("grade", "S", "price", 1, "count", 1)));
        for (int i = 0; i < 2; i++) {
            admin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("name", unique("c"), "dates", List.of(date))).exchange().expectStatus().isCreated();
        }
        Long venues = db.sql("SELECT COUNT(*) AS n FROM venue WHERE name = :n").bind("n", venue).map(r -> r.get("n", Long.class)).one().block();
        assertThat(venues).isEqualTo(1);
    }

    @Test
    void invalidConcertsAreRejectedAndCreateNothing() {
        Long before = concerts();
        List<Object> bad = List.of(
                Map.of("name", "", "dates", List.of()),
                Map.of("name", "x", "dates", List.of()),
                Map.of("name", "x", "dates", List.of(Map.of("startsAt", "not-a-time", "venue", "v", "seats", List.of(Map.of("grade", "S", "price", 1, "count", 1))))),
                Map.of("name", "x", "dates", List.of(Map.of("startsAt", "2030-01-01T00:00:00Z", "venue", "v", "seats", List.of(Map.of("grade", "S", "price", -1, "count", 1))))),
                Map.of("name", "x", "dates", List.of(Map.of("startsAt", "2030-01-01T00:00:00Z", "venue", "v", "seats", List.of(Map.of("grade", "S", "price", 1, "count", 0))))),
                Map.of("name", "x", "dates", List.of(Map.of("startsAt", "2030-01-01T00:00:00Z", "venue", "v", "seats", List.of(Map.of("grade", "bad grade!", "price", 1, "count", 1))))),
                // The issue's attack: a year the database cannot store was a 503; it is the client's mistake, a 400.
                Map.of("name", "x", "dates", List.of(Map.of("startsAt", "+99999-01-01T00:00:00Z", "venue", "v", "seats", List.of(Map.of("grade", "S", "price", 1, "count", 1))))),
                Map.of("name", "x", "dates", List.of(Map.of("startsAt", "-0001-01-01T00:00:00Z", "venue", "v", "seats", List.of(Map.of("grade", "S", "price", 1, "count", 1))))),
                Map.of("name", "x", "dates", List.of(Map.of("startsAt", "2030-01-01T00:00:00Z", "venue", "v", "seats", List.of(Map.of("grade", "S", "price", 1, "count", 1))),
                        Map.of("startsAt", "1970-01-01T00:00:00Z", "venue", "v", "seats", List.of(Map.of("grade", "S", "price", 1, "count", 1))))));
        for (Object body : bad) {
            admin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                    .exchange().expectStatus().isBadRequest()
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        assertThat(concerts()).isEqualTo(before);
    }

    @Test
    void createsUsers() {
        String kim = unique("kim");
        admin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", kim, "password", "kim-password", "balance", 5000)).exchange()
                .expectStatus().isCreated()
                .expectBody().jsonPath("$.userId").isNumber().jsonPath("$.username").isEqualTo(kim).jsonPath("$.balance").isEqualTo(5000)
                .jsonPath("$.password").doesNotExist();
        admin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", unique("lee"))).exchange()
                .expectStatus().isCreated().expectBody().jsonPath("$.balance").isEqualTo(0);
        for (Object bad : List.of(Map.of("username", ""), Map.of("username", "xyz", "balance", -1),
                Map.of("username", "xyz", "balance", 1_000_000_001L), Map.of("name", "Kim"))) {
            admin().post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON).bodyValue(bad)
                    .exchange().expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
    }

    @Test
    void adminKeyIsRequired() {
        for (String key : new String[] {null, "", "wrong-key"}) {
            var spec = web.post().uri("/api/v1/admin/users").contentType(MediaType.APPLICATION_JSON);
            if (key != null) {
                spec = spec.header(ADMIN_KEY_HEADER, key);
            }
            spec.bodyValue(Map.of("username", unique("x"))).exchange()
                    .expectStatus().isUnauthorized()
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.code").isEqualTo("ADMIN_KEY_INVALID");
        }
    }

    private org.springframework.test.web.reactive.server.WebTestClient admin() {
        return web.mutate().defaultHeader(ADMIN_KEY_HEADER, ADMIN_KEY).build();
    }

    private Long concerts() {
        return db.sql("SELECT COUNT(*) AS n FROM concert").map(r -> r.get("n", Long.class)).one().block();
    }
}
