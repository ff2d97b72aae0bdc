package com.concertbooking.auth;

import java.util.List;
import java.util.Map;

import com.concertbooking.queue.QueueTestSupport;
import com.concertbooking.support.IdSpellings;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The attacks of issue 16, replayed (SPEC 3 ids, rules 4.9 and 4.14): fan A reaching fan V's wallet and reservations,
 * and another concert's seat map, by spelling an id so that a check misread it while the handler read it leniently.
 * Every spelling is now 400 VALIDATION_FAILED (or the firewall's 400), the plain id of another fan or concert is 403,
 * and the victim's balance, reservations and seats are unchanged in the database.
 */
class IdSpellingAttackTest extends QueueTestSupport {

    private static final int BAD_REQUEST = 400, FORBIDDEN = 403;

    @Test
    void anotherFansWalletIsOutOfReachWhateverTheIdsSpelling() {
        long victim = createUser(50_000);
        long attacker = createUser(0);
        Map<String, String> asAttacker = Map.of(HttpHeaders.AUTHORIZATION, bearerFor(attacker));
        for (String v : IdSpellings.inUrl(victim)) {
            expect400(raw("GET", "/api/v1/users/" + v + "/balance", null, asAttacker), v);
            expect400(raw("PATCH", "/api/v1/users/" + v + "/charge", "{\"amount\":1000}", asAttacker), v);
            expect400(raw("PATCH", "/api/v1/" + v + "/charge", "{\"amount\":1000}", asAttacker), v);
        }
        // The attacker's own id spelled oddly is no more acceptable than the victim's.
        for (String a : IdSpellings.inUrl(attacker)) {
            expect400(raw("GET", "/api/v1/users/" + a + "/balance", null, asAttacker), a);
        }
        expect(raw("GET", "/api/v1/users/" + victim + "/balance", null, asAttacker), FORBIDDEN, "FORBIDDEN");
        expect(raw("PATCH", "/api/v1/users/" + victim + "/charge", "{\"amount\":1000}", asAttacker), FORBIDDEN, "FORBIDDEN");
        expect(raw("PATCH", "/api/v1/" + victim + "/charge", "not even json", asAttacker), FORBIDDEN, "FORBIDDEN");
        assertThat(balanceOf(victim)).isEqualTo(50_000);
        assertThat(balanceOf(attacker)).isZero();
    }

    @Test
    void anotherFansPaidReservationCanBeNeitherListedNorCancelledWhateverTheIdsSpelling() {
        long victim = createUser(500_000);
        long attacker = createUser(500_000);
        var concert = createConcert(5);
        String victimPass = activeToken(victim, concert.concertId());
        long reservation = holdWith(victimPass, concert.firstDateId(), 1);
        payWith(victimPass, reservation);
        long victimBalance = balanceOf(victim);
        Map<String, String> asAttacker = Map.of(HttpHeaders.AUTHORIZATION, bearerFor(attacker));

        for (String v : IdSpellings.inUrl(victim)) {
            expect400(raw("GET", "/api/v1/reservations/" + v, null, asAttacker), v);
            expect400(raw("DELETE", "/api/v1/reservations/" + reservation + "?userId=" + v, null, asAttacker), v);
        }
        // The issue's own request, a userId given twice, and the attacker's own id on the victim's reservation.
        expect400(raw("DELETE", "/api/v1/reservations/" + reservation + "?userId=%2B" + victim, null, asAttacker), "%2B");
        expect400(raw("DELETE", "/api/v1/reservations/" + reservation + "?userId=" + attacker + "&userId=" + victim, null, asAttacker), "twice");
        expect400(raw("DELETE", "/api/v1/reservations/" + reservation + "?userId=" + victim + "&userId=" + attacker, null, asAttacker), "twice");
        expect(raw("GET", "/api/v1/reservations/" + victim, null, asAttacker), FORBIDDEN, "FORBIDDEN");
        expect(raw("DELETE", "/api/v1/reservations/" + reservation + "?userId=" + victim, null, asAttacker), FORBIDDEN, "FORBIDDEN");
        expect(raw("DELETE", "/api/v1/reservations/" + reservation + "?userId=" + attacker, null, asAttacker), FORBIDDEN, "FORBIDDEN");

        assertThat(row("SELECT status FROM reservation WHERE id = " + reservation)).isEqualTo("PAID");
        assertThat(row("SELECT CONCAT(status, ':', reservation_id) FROM seat WHERE concert_date_id = " + concert.firstDateId()
                + " AND seat_number = 1")).isEqualTo("SOLD:" + reservation);
        assertThat(balanceOf(victim)).isEqualTo(victimBalance);
        assertThat(row("SELECT COUNT(*) FROM reservation WHERE user_id = " + attacker)).isEqualTo("0");
    }

    @Test
    void anActivePassOpensOnlyItsOwnConcertsSeatMapsWhateverTheDatesSpelling() {
        long fan = createUser(0);
        var concert = createConcert(5);
        var other = createConcert(5);
        String pass = activeToken(fan, concert.concertId());
        Map<String, String> headers = Map.of(HttpHeaders.AUTHORIZATION, bearerFor(fan), QueuePass.HEADER, pass);
        for (String route : List.of("/seats", "/availability", "/layout")) {
            for (long date : List.of(other.firstDateId(), concert.firstDateId())) {
                for (String d : IdSpellings.inUrl(date)) {
                    expect400(raw("GET", "/api/v1/concerts/dates/" + d + route, null, headers), d + route);
                    raw("HEAD", "/api/v1/concerts/dates/" + d + route, null, headers).expectStatus()
                            .value(status -> assertThat(status).as("HEAD " + d + route).isEqualTo(BAD_REQUEST));
                }
            }
        }
        for (String route : List.of("/seats", "/availability")) {
            expect(raw("GET", "/api/v1/concerts/dates/" + other.firstDateId() + route, null, headers), FORBIDDEN, "FORBIDDEN");
            raw("HEAD", "/api/v1/concerts/dates/" + other.firstDateId() + route, null, headers).expectStatus().isForbidden();
            raw("GET", "/api/v1/concerts/dates/" + concert.firstDateId() + route, null, headers).expectStatus().isOk();
        }
        // The layout is public (every concert's), also to a caller with no credentials at all.
        raw("GET", "/api/v1/concerts/dates/" + other.firstDateId() + "/layout", null, Map.of()).expectStatus().isOk();
    }

    /** Ids in bodies are JSON numbers: a string, sign, leading zero, fraction, exponent or other digits is a 400 too. */
    @Test
    void idsInJsonBodiesAreJsonNumbersOnly() {
        long fan = createUser(500_000);
        long victim = createUser(0);
        var concert = createConcert(5);
        String pass = activeToken(fan, concert.concertId());
        long date = concert.firstDateId();
        long held = holdWith(pass, date, 5);
        Map<String, String> headers = Map.of(HttpHeaders.AUTHORIZATION, bearerFor(fan), QueuePass.HEADER, pass);
        for (String u : IdSpellings.inJson(fan)) {
            expect400(raw("POST", "/api/v1/reservations", "{\"userId\":" + u + ",\"concertDateId\":" + date + ",\"seatNumber\":1}", headers), u);
            expect400(raw("POST", "/api/v1/payments/pay", "{\"userId\":" + u + ",\"reservationId\":" + held + "}", headers), u);
            expect400(raw("POST", "/api/v1/queues/token", "{\"userId\":" + u + ",\"concertId\":" + concert.concertId() + "}", headers), u);
        }
        for (String d : IdSpellings.inJson(date)) {
            expect400(raw("POST", "/api/v1/reservations", "{\"userId\":" + fan + ",\"concertDateId\":" + d + ",\"seatNumber\":1}", headers), d);
        }
        for (String r : IdSpellings.inJson(held)) {
            expect400(raw("POST", "/api/v1/payments/pay", "{\"userId\":" + fan + ",\"reservationId\":" + r + "}", headers), r);
        }
        for (String c : IdSpellings.inJson(concert.concertId())) {
            expect400(raw("POST", "/api/v1/queues/token", "{\"concertId\":" + c + "}", headers), c);
        }
        // Another fan's id, plainly written: 403, with the caller's own pass and all.
        expect(raw("POST", "/api/v1/reservations", "{\"userId\":" + victim + ",\"concertDateId\":" + date + ",\"seatNumber\":1}", headers),
                FORBIDDEN, "FORBIDDEN");
        expect(raw("POST", "/api/v1/payments/pay", "{\"userId\":" + victim + ",\"reservationId\":" + held + "}", headers), FORBIDDEN, "FORBIDDEN");
        expect(raw("POST", "/api/v1/queues/token", "{\"userId\":" + victim + ",\"concertId\":" + concert.concertId() + "}", headers),
                FORBIDDEN, "FORBIDDEN");

        assertThat(row("SELECT COUNT(*) FROM seat WHERE concert_date_id = " + date + " AND status <> 'AVAILABLE'")).isEqualTo("1");
        assertThat(row("SELECT status FROM reservation WHERE id = " + held)).isEqualTo("HELD");
        assertThat(balanceOf(fan)).isEqualTo(500_000);
        assertThat(row("SELECT COUNT(*) FROM reservation WHERE user_id = " + victim)).isEqualTo("0");
    }

    private static void expect400(WebTestClient.ResponseSpec response, String spelling) {
        response.expectStatus().value(status -> assertThat(status).as(spelling).isEqualTo(BAD_REQUEST))
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.code").value(code -> assertThat(code).as(spelling).isIn("VALIDATION_FAILED", "REQUEST_REJECTED"));
    }

    private static void expect(WebTestClient.ResponseSpec response, int status, String code) {
        response.expectStatus().isEqualTo(status).expectBody().jsonPath("$.code").isEqualTo(code);
    }

    private long balanceOf(long user) {
        return Long.parseLong(row("SELECT balance FROM users WHERE id = " + user));
    }

    private String row(String sql) {
        return database.sql(sql).map(r -> String.valueOf(r.get(0))).one().block();
    }

}
