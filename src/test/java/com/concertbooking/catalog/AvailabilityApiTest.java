package com.concertbooking.catalog;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import com.concertbooking.booking.SeatsChanged;
import com.concertbooking.queue.QueueTestSupport;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpHeaders;
import org.springframework.test.context.TestPropertySource;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import tools.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 8 for big venues (issue 18 item 1): the immutable layout and the versioned availability of a date, kept current
 * from the seat owner's committed changes and the hold expiry times, one version sequence for all instances.
 */
@TestPropertySource(properties = "booking.reservation.hold-duration=2s")
class AvailabilityApiTest extends QueueTestSupport {

    private static final Duration DEADLINE = Duration.ofSeconds(15);

    @Autowired
    ObjectMapper json;

    @Autowired
    CatalogStore store;

    private static void eventually(String what, BooleanSupplier condition) {
        long until = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as(what + " within " + DEADLINE).isLessThan(until);
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private EntityExchangeResult<byte[]> availability(String token, long date, String query, String ifNoneMatch) {
        return web.get().uri("/api/v1/concerts/dates/" + date + "/availability" + query).headers(withPass(token))
                .headers(h -> {
                    if (ifNoneMatch != null) {
                        h.set(HttpHeaders.IF_NONE_MATCH, ifNoneMatch);
                    }
                })
                .exchange().expectBody(byte[].class).returnResult();
    }

    private Map<?, ?> body(EntityExchangeResult<byte[]> result) {
        assertThat(result.getStatus().value()).as(new String(result.getResponseBodyContent() == null ? new byte[0] : result.getResponseBodyContent()))
                .isEqualTo(200);
        return json.readValue(result.getResponseBody(), Map.class);
    }

    private static boolean free(Map<?, ?> full, int seatNumber) {
        byte[] bits = Base64.getDecoder().decode((String) full.get("free"));
        int i = seatNumber - 1;
        return (bits[i >> 3] & (1 << (i & 7))) != 0;
    }

    private static long version(Map<?, ?> doc) {
        return ((Number) doc.get("version")).longValue();
    }

    @Test
    void theLayoutIsPublicImmutableAndRevalidatedByItsETag() {
        CreatedConcert concert = createConcert(40);
        long date = concert.firstDateId();
        var first = web.get().uri("/api/v1/concerts/dates/{d}/layout", date).exchange()
                .expectStatus().isOk()
                .expectHeader().valueMatches(HttpHeaders.CACHE_CONTROL, ".*max-age=86400.*")
                .expectHeader().valueMatches(HttpHeaders.CACHE_CONTROL, ".*public.*")
                .expectBody(byte[].class).returnResult();
        String etag = first.getResponseHeaders().getETag();
        assertThat(etag).isNotBlank();
        Map<?, ?> layout = json.readValue(first.getResponseBody(), Map.class);
        assertThat(layout.get("seatCount")).isEqualTo(40);
        assertThat(layout.get("grades")).isEqualTo(List.of("VIP", "R"));
        assertThat(layout.get("blocks")).isEqualTo(List.of(List.of(1, 10, 0, 150_000), List.of(11, 40, 1, 100_000)));

        web.get().uri("/api/v1/concerts/dates/{d}/layout", date).header(HttpHeaders.IF_NONE_MATCH, etag).exchange()
                .expectStatus().isNotModified().expectBody().isEmpty();
        web.get().uri("/api/v1/concerts/dates/{d}/layout", date).header(HttpHeaders.IF_NONE_MATCH, "W/" + etag + ", \"x\"").exchange()
                .expectStatus().isNotModified();
        web.get().uri("/api/v1/concerts/dates/{d}/layout", date).header(HttpHeaders.IF_NONE_MATCH, "\"stale\"").exchange()
                .expectStatus().isOk();
        web.head().uri("/api/v1/concerts/dates/{d}/layout", date).exchange()
                .expectStatus().isOk().expectHeader().valueEquals(HttpHeaders.ETAG, etag).expectBody().isEmpty();
        web.get().uri("/api/v1/concerts/dates/{d}/layout", Long.MAX_VALUE).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("CONCERT_DATE_NOT_FOUND");

        // A hold changes availability, never the layout.
        long user = freshUserId();
        String token = activeToken(user, concert.concertId());
        holdWith(token, date, 3);
        web.get().uri("/api/v1/concerts/dates/{d}/layout", date).header(HttpHeaders.IF_NONE_MATCH, etag).exchange()
                .expectStatus().isNotModified();
    }

    @Test
    void availabilityIsVersionedWithDeltasAnd304AndFollowsHoldsPaymentsCancelsAndExpiry() {
        CreatedConcert concert = createConcert(30);
        long date = concert.firstDateId();
        long user = createUser(1_000_000);
        String token = activeToken(user, concert.concertId());

        var first = availability(token, date, "", null);
        Map<?, ?> full = body(first);
        long v0 = version(full);
        assertThat(v0).isPositive();
        assertThat(first.getResponseHeaders().getETag()).isEqualTo("\"" + v0 + "\"");
        assertThat(first.getResponseHeaders().getCacheControl()).contains("no-cache");
        assertThat(full.get("seatCount")).isEqualTo(30);
        for (int n = 1; n <= 30; n++) {
            assertThat(free(full, n)).as("seat " + n).isTrue();
        }
        // Unchanged: 304, and a delta with nothing in it.
        assertThat(availability(token, date, "", "\"" + v0 + "\"").getStatus().value()).isEqualTo(304);
        Map<?, ?> none = body(availability(token, date, "?since=" + v0, null));
        assertThat(none.get("changes")).isEqualTo(List.of());
        assertThat(version(none)).isEqualTo(v0);

        // A hold: the seat turns taken, under a newer version; the delta names just that seat.
        long seven = holdWith(token, date, 7);
        eventually("seat 7 is taken", () -> !free(body(availability(token, date, "", null)), 7));
        Map<?, ?> afterHold = body(availability(token, date, "", null));
        long v1 = version(afterHold);
        assertThat(v1).isGreaterThan(v0);
        assertThat(availability(token, date, "", "\"" + v0 + "\"").getStatus().value()).as("old ETag").isEqualTo(200);
        assertThat(body(availability(token, date, "?since=" + v0, null)).get("changes")).isEqualTo(List.of(List.of(7, 0)));

        // Paid: still taken (no change of freedom to report); a second hold then cancelled: free again.
        payWith(token, seven);
        String again = activeToken(user, concert.concertId());
        long eight = holdWith(again, date, 8);
        eventually("seat 8 is taken", () -> !free(body(availability(again, date, "", null)), 8));
        withQueueToken(again).delete().uri("/api/v1/reservations/{r}?userId={u}", eight, user).exchange().expectStatus().isOk();
        eventually("seat 8 is free again", () -> free(body(availability(again, date, "", null)), 8));
        Map<?, ?> delta = body(availability(again, date, "?since=" + v0, null));
        assertThat(delta.get("changes")).as("latest state per seat, in seat order").isEqualTo(List.of(List.of(7, 0), List.of(8, 1)));

        // A hold that runs out (2 s here) turns free without any write: no sweeper runs in tests.
        holdWith(again, date, 9);
        eventually("seat 9 is taken", () -> !free(body(availability(again, date, "", null)), 9));
        long taken = version(body(availability(again, date, "", null)));
        eventually("seat 9 is free after its hold ran out", () -> free(body(availability(again, date, "", null)), 9));
        assertThat(body(availability(again, date, "?since=" + taken, null)).get("changes")).isEqualTo(List.of(List.of(9, 1)));
        assertThat(store.freeSeatCounts(List.of(date)).blockFirst()[1]).as("the count waits for the sweeper").isEqualTo(28);
    }

    @Test
    void badHugeAndUnknownSinceAndOtherConcertsDates() {
        CreatedConcert concert = createConcert(12);
        CreatedConcert other = createConcert(12);
        long date = concert.firstDateId();
        long user = freshUserId();
        String token = activeToken(user, concert.concertId());
        long v = version(body(availability(token, date, "", null)));

        for (String since : List.of("abc", "-1", "01", "%2B5", "1e3", "1.0", "%20" + v, "99999999999999999999", "")) {
            var result = availability(token, date, "?since=" + since, null);
            assertThat(result.getStatus().value()).as("since=" + since).isEqualTo(400);
            assertThat(new String(result.getResponseBody())).contains("VALIDATION_FAILED");
        }
        // Newer than this instance knows (Long.MAX_VALUE), or older than the log: the full document, marked.
        for (String since : List.of(Long.toString(Long.MAX_VALUE), "0", "1", Long.toString(v - 1))) {
            Map<?, ?> full = body(availability(token, date, "?since=" + since, null));
            assertThat(full.get("full")).as("since=" + since).isEqualTo(true);
            assertThat(full.get("free")).isInstanceOf(String.class);
        }
        // Another concert's date with this concert's pass: 403; no pass: 401 for the token; no access token: 401.
        var forbidden = availability(token, other.firstDateId(), "", null);
        assertThat(forbidden.getStatus().value()).isEqualTo(403);
        assertThat(new String(forbidden.getResponseBody())).contains("FORBIDDEN");
        web.get().uri("/api/v1/concerts/dates/{d}/availability", date).header(HttpHeaders.AUTHORIZATION, bearerFor(user)).exchange()
                .expectStatus().isUnauthorized();
        web.get().uri("/api/v1/concerts/dates/{d}/availability", date).exchange().expectStatus().isUnauthorized();
        web.head().uri("/api/v1/concerts/dates/{d}/availability", other.firstDateId()).headers(withPass(token)).exchange()
                .expectStatus().isForbidden();
        web.head().uri("/api/v1/concerts/dates/{d}/availability", date).headers(withPass(token)).exchange()
                .expectStatus().isOk().expectHeader().valueEquals(HttpHeaders.ETAG, "\"" + v + "\"").expectBody().isEmpty();
        web.get().uri("/api/v1/concerts/dates/{d}/availability", Long.MAX_VALUE).headers(withPass(token)).exchange()
                .expectStatus().isNotFound();
    }

    @Test
    void oneGradeOfTheSeatList() {
        CreatedConcert concert = createConcert(25);
        long user = freshUserId();
        String token = activeToken(user, concert.concertId());
        Map<?, ?> vip = web.get().uri("/api/v1/concerts/dates/{d}/seats?status=all&grade=VIP", concert.firstDateId()).headers(withPass(token))
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        assertThat((List<?>) vip.get("seats")).hasSize(10).allMatch(s -> "VIP".equals(((Map<?, ?>) s).get("grade")));
        Map<?, ?> none = web.get().uri("/api/v1/concerts/dates/{d}/seats?grade=GOLD", concert.firstDateId()).headers(withPass(token))
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        assertThat((List<?>) none.get("seats")).isEmpty();
        for (String bad : List.of("%20VIP", "VIP;x", "a".repeat(21), "%C3%A9")) {
            web.get().uri("/api/v1/concerts/dates/" + concert.firstDateId() + "/seats?grade=" + bad).headers(withPass(token))
                    .exchange().expectStatus().isBadRequest();
        }
    }

    /**
     * Another instance (its own memory, the same database and Redis) learns every change and names the same seats by
     * the same version; announcements of one seat that arrive out of commit order are logged in commit order.
     */
    @Test
    void anotherInstanceSeesTheSameVersionsAndOutOfOrderAnnouncementsKeepCommitOrder() {
        CreatedConcert concert = createConcert(20);
        long date = concert.firstDateId();
        long user = freshUserId();
        String token = activeToken(user, concert.concertId());
        SeatAvailability second = new SeatAvailability(store, redis, Clock.systemUTC(), SeatMapProperties.defaults());
        second.start();
        try {
            assertThat(second.date(date).block(DEADLINE)).isNotNull();
            holdWith(token, date, 4);
            eventually("the other instance sees seat 4 taken", () -> {
                var d = second.date(date).block(DEADLINE);
                return !free(json.readValue(d.full(), Map.class), 4);
            });
            eventually("both instances are at one version with the same seats", () -> {
                Map<?, ?> here = body(availability(token, date, "", null));
                Map<?, ?> there = json.readValue(second.date(date).block(DEADLINE).full(), Map.class);
                return here.equals(there);
            });

            // Seat 5: reservation 1,000,000,000 held it, then bought it; the announcements arrive the other way round.
            long r = 1_000_000_000L;
            second.submit(new SeatsChanged(date, List.of(new SeatsChanged.Change(5, SeatsChanged.State.SOLD, r, null))));
            eventually("seat 5 sold", () -> !free(body(availability(token, date, "", null)), 5));
            long afterSold = version(body(availability(token, date, "", null)));
            second.submit(new SeatsChanged(date, List.of(new SeatsChanged.Change(5, SeatsChanged.State.HELD, r, Instant.now().minusSeconds(60)))));
            // A later change of another seat shows the log moved on; the stale one of seat 5 took no version.
            second.submit(new SeatsChanged(date, List.of(new SeatsChanged.Change(6, SeatsChanged.State.SOLD, r + 1, null))));
            eventually("seat 6 sold", () -> !free(body(availability(token, date, "", null)), 6));
            Map<?, ?> delta = body(availability(token, date, "?since=" + afterSold, null));
            assertThat(delta.get("changes")).isEqualTo(List.of(List.of(6, 0)));
            assertThat(version(delta)).isEqualTo(afterSold + 1);
        } finally {
            second.stop();
        }
    }
}
