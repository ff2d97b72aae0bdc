package com.concertbooking.admin;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;

class DemoDataTest extends IntegrationTest {

    @Autowired
    DemoData demoData;

    @Autowired
    DatabaseClient db;

    @Test
    void loadsOnceWithAThousandSeatVenue() {
        StepVerifier.create(demoData.loadIfMissing()).verifyComplete();
        StepVerifier.create(demoData.loadIfMissing()).verifyComplete();

        assertThat(count("SELECT COUNT(*) AS n FROM concert WHERE name LIKE '[demo] %'")).isEqualTo(3);
        assertThat(count("""
                SELECT COUNT(*) AS n FROM concert_date d JOIN concert c ON c.id = d.concert_id
                WHERE c.name LIKE '[demo] %' AND d.total_seats = 1000""")).isGreaterThanOrEqualTo(1);
        assertThat(count("SELECT COUNT(*) AS n FROM users WHERE username IN ('fan1', 'fan2', 'fan3', 'fan4', 'fan5', 'fan6', 'fan7', 'fan8', 'fan9', 'fan10')"))
                .isEqualTo(10);
        // The demo login bin/run prints works.
        web.post().uri("/api/v1/auth/login").contentType(org.springframework.http.MediaType.APPLICATION_JSON)
                .bodyValue(java.util.Map.of("username", "fan1", "password", "concert-demo")).exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.accessToken").isNotEmpty();
    }

    private long count(String sql) {
        return db.sql(sql).map(r -> r.get("n", Long.class)).one().block();
    }
}
