package com.concertbooking.booking;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.concertbooking.queue.QueueTestSupport;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Database statements and commits per hold, payment and cancel (issue 10 item 4) and per cold dates listing (issue 18),
 * counted by the server itself:
 * with a pool of ONE connection every statement of the application runs in one MariaDB session, so the deltas
 * of {@code SHOW SESSION STATUS} around N sequential requests, divided by N, are the per-request counts
 * (an idle window of the same length is measured too, to show that background work adds next to nothing here: the
 * outbox relay and the consumer are off; the admission's sold-out checks may add a few statements). Not a timing test: it counts, and guards the counts from creeping up.
 */
@TestPropertySource(properties = {"spring.r2dbc.pool.initial-size=1", "spring.r2dbc.pool.max-size=1",
        "booking.events.relay.enabled=false", "booking.events.consumer.enabled=false"})
class RoundTripCountTest extends QueueTestSupport {

    private static final int N = 30;
    private static final List<String> COUNTERS = List.of("Questions", "Com_select", "Com_insert", "Com_update", "Com_delete",
            "Com_begin", "Com_commit", "Com_rollback", "Com_set_option", "Com_stmt_prepare", "Com_stmt_execute", "Com_stmt_close");

    private Map<String, Long> status() {
        Map<String, Long> values = new LinkedHashMap<>();
        database.sql("SHOW SESSION STATUS").map(r -> Map.entry(r.get(0, String.class), r.get(1, String.class))).all()
                .filter(e -> COUNTERS.contains(e.getKey()))
                .doOnNext(e -> values.put(e.getKey(), Long.parseLong(e.getValue()))).blockLast();
        return values;
    }

    /** Per-request deltas; the SHOW SESSION STATUS that ends the window is one question, subtracted. */
    private Map<String, Double> perRequest(Map<String, Long> before, Map<String, Long> after, int n) {
        Map<String, Double> result = new LinkedHashMap<>();
        for (String c : COUNTERS) {
            long delta = after.get(c) - before.get(c) - (c.equals("Questions") ? 1 : 0);
            result.put(c, delta / (double) n);
        }
        return result;
    }

    @Test
    void statementsAndCommitsPerWrite() throws InterruptedException {
        CreatedConcert concert = createConcert(2 * N);
        List<Long> users = createUsers(N, 1_000_000);
        Map<Long, String> tokens = activeTokens(concert.concertId(), users);
        long date = concert.firstDateId();
        users.forEach(this::bearerFor);
        // Warm-up outside the windows: one of each request (first-use caches, prepared statements).
        long warm = createUser(1_000_000);
        String warmToken = activeToken(warm, concert.concertId());
        long warmHold = hold(warmToken, warm, date, 2 * N);
        cancel(hold(warmToken, warm, date, 2 * N - 1), warm);
        pay(warmToken, warm, warmHold, "warm");
        cancel(warmHold, warm);

        Map<String, Long> s0 = status();
        Thread.sleep(2000);
        Map<String, Long> s1 = status();
        Map<String, Double> idle = perRequest(s0, s1, 1);

        long[] first = new long[N];
        long[] second = new long[N];
        Map<String, Long> h0 = status();
        for (int i = 0; i < N; i++) {
            first[i] = hold(tokens.get(users.get(i)), users.get(i), date, i + 1);
        }
        Map<String, Long> h1 = status();
        for (int i = 0; i < N; i++) {
            second[i] = hold(tokens.get(users.get(i)), users.get(i), date, N + i + 1);
        }
        Map<String, Long> c0 = status();
        for (int i = 0; i < N; i++) {
            cancel(second[i], users.get(i));
        }
        Map<String, Long> c1 = status();
        Map<String, Long> p0 = status();
        for (int i = 0; i < N; i++) {
            pay(tokens.get(users.get(i)), users.get(i), first[i], "order-" + i);
        }
        Map<String, Long> p1 = status();
        Map<String, Long> r0 = status();
        for (int i = 0; i < N; i++) {
            cancel(first[i], users.get(i));
        }
        Map<String, Long> r1 = status();

        Map<String, Map<String, Double>> table = new LinkedHashMap<>();
        table.put("idle (2 s)", idle);
        table.put("hold", perRequest(h0, h1, N));
        table.put("cancel (held)", perRequest(c0, c1, N));
        table.put("pay (with Idempotency-Key)", perRequest(p0, p1, N));
        table.put("cancel (paid, refund)", perRequest(r0, r1, N));
        // Round trips: the driver sends a transaction's SET TRANSACTION ISOLATION LEVEL and START TRANSACTION as one
        // multi-statement query (its QUERY log shows them in one line), every other statement alone (text protocol).
        StringBuilder out = new StringBuilder("\nround trips per request (MariaDB session counters, N=" + N + ")\n| request | round trips | "
                + String.join(" | ", COUNTERS) + " |\n");
        table.forEach((name, row) -> {
            out.append("| ").append(name).append(" | ").append(String.format("%.1f", row.get("Questions") - row.get("Com_set_option")));
            row.values().forEach(v -> out.append(" | ").append(String.format("%.1f", v)));
            out.append(" |\n");
        });
        System.out.println(out);
        // Background work on this one connection is a few statements in 2 s at most: the admission's sold-out checks
        // (at most once a second per concert with fans waiting, which other test classes leave in the shared test Redis;
        // 3 seen). Well inside the per-request slack below (0.5 x N statements per window).
        assertThat(idle.get("Questions")).as("little else used the connection").isLessThanOrEqualTo(6);
        // Guards against creeping back (measured: hold 8, held cancel 9, pay 10, refund 12; docs/booking.md; the
        // purchase limit of issue 17 replaced the hold's user-row lock and added one UPDATE to each cancel; issue 18
        // folded the hold limit's COUNT into the reservation INSERT and the key's completion into its one INSERT). A
        // little slack for a background statement landing in a window.
        assertThat(table.get("hold").get("Questions")).isLessThan(8.5);
        assertThat(table.get("cancel (held)").get("Questions")).isLessThan(9.5);
        assertThat(table.get("pay (with Idempotency-Key)").get("Questions")).isLessThan(10.5);
        assertThat(table.get("cancel (paid, refund)").get("Questions")).isLessThan(12.5);
        table.forEach((name, row) -> assertThat(row.get("Com_commit")).as("%s: one commit", name).isLessThanOrEqualTo(name.startsWith("idle") ? 0 : 1.05));
    }

    /**
     * No query per reservation (issue 19): the list, with every reservation's concert, date, venue and grade, and a
     * payment of several cost the same statements for 2 reservations as for 4.
     */
    @Test
    void listAndPaymentOfSeveralCostTheSameStatementsWhateverTheirNumber() {
        CreatedConcert concert = createConcert(20);
        long date = concert.firstDateId();
        long few = createUser(1_000_000);
        long many = createUser(1_000_000);
        String fewToken = activeToken(few, concert.concertId());
        String manyToken = activeToken(many, concert.concertId());
        List<Long> fewHolds = List.of(hold(fewToken, few, date, 1), hold(fewToken, few, date, 2));
        List<Long> manyHolds = List.of(hold(manyToken, many, date, 3), hold(manyToken, many, date, 4), hold(manyToken, many, date, 5),
                hold(manyToken, many, date, 6));
        list(few); // warm-up
        Map<String, Long> a = status();
        list(few);
        Map<String, Long> b = status();
        list(many);
        Map<String, Long> c = status();
        assertThat(perRequest(b, c, 1).get("Questions")).isEqualTo(perRequest(a, b, 1).get("Questions")).isLessThanOrEqualTo(2.0);

        Map<String, Long> p0 = status();
        payAll(fewToken, few, fewHolds);
        Map<String, Long> p1 = status();
        payAll(manyToken, many, manyHolds);
        Map<String, Long> p2 = status();
        assertThat(perRequest(p1, p2, 1).get("Questions")).isEqualTo(perRequest(p0, p1, 1).get("Questions"));
        assertThat(perRequest(p1, p2, 1).get("Com_commit")).isEqualTo(1.0);
    }

    /**
     * A dates listing nobody has read yet (a cold snapshot, as for every request of a walk over all concerts) is one
     * statement: the concert, its upcoming dates, venues and free-seat counts together (issue 18). So is the 404 of an
     * unknown concert and the empty listing of a concert whose dates have all passed. No commit: autocommit reads.
     */
    @Test
    void aColdDatesListingIsOneStatement() {
        int n = 10;
        List<Long> concerts = new java.util.ArrayList<>();
        List<Long> past = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            concerts.add(createConcert(3, 5, 6).concertId());
            past.add(createConcert(3, -1).concertId());
        }
        listing(createConcert(3, 5).concertId(), 200); // warm-up (first use of the statement and the encoder)

        Map<String, Long> a = status();
        concerts.forEach(c -> listing(c, 200));
        Map<String, Long> b = status();
        past.forEach(c -> listing(c, 200));
        Map<String, Long> c = status();
        for (int i = 0; i < n; i++) {
            listing(Long.MAX_VALUE - i, 404);
        }
        Map<String, Long> d = status();
        // Slack for a background statement landing in a window (see statementsAndCommitsPerWrite): 1.3 x n at most.
        assertThat(perRequest(a, b, n).get("Questions")).as("cold listing with two upcoming dates").isBetween(1.0, 1.3);
        assertThat(perRequest(b, c, n).get("Questions")).as("cold listing without upcoming dates").isBetween(1.0, 1.3);
        assertThat(perRequest(c, d, n).get("Questions")).as("unknown concert").isBetween(1.0, 1.3);
        assertThat(perRequest(a, d, 3 * n).get("Com_commit")).isZero();
    }

    private void listing(long concertId, int status) {
        var response = web.get().uri("/api/v1/concerts/{c}/dates", concertId).exchange().expectStatus().isEqualTo(status).expectBody();
        if (status == 200) {
            response.jsonPath("$.concertId").isEqualTo(concertId);
        }
    }

    private void list(long user) {
        asUser(user).get().uri("/api/v1/reservations/{u}", user).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$[0].concertName").isNotEmpty();
    }

    private void payAll(String token, long user, List<Long> ids) {
        web.post().uri("/api/v1/payments/pay").headers(withPass(token)).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("reservationIds", ids, "userId", user)).exchange().expectStatus().isOk();
    }

    private long hold(String token, long user, long date, int seat) {
        Map<?, ?> body = web.post().uri("/api/v1/reservations").headers(withPass(token)).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", user, "concertDateId", date, "seatNumber", seat))
                .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        return num(body.get("reservationId"));
    }

    private void pay(String token, long user, long reservationId, String key) {
        web.post().uri("/api/v1/payments/pay").headers(withPass(token)).header("Idempotency-Key", key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("reservationId", reservationId, "userId", user))
                .exchange().expectStatus().isOk();
    }

    private void cancel(long reservationId, long user) {
        asUser(user).delete().uri("/api/v1/reservations/{id}?userId={u}", reservationId, user).exchange().expectStatus().isOk();
    }
}
