package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * A scheduled on-sale (issue 17, SPEC 14): {@code onsaleFans} fans (default 2,000, made and signed in before the load) arrive
 * over {@code onsaleJoinSecs} (default 20) while the pre-queue is open, are registered (PREQUEUE) and hold the stream
 * open through the countdown; at {@code opensAt} (set-up time + {@code onsaleJoinSecs} + {@code onsaleLeadSecs},
 * default 15) the draw gives every one of them a place, and admission ({@code onsaleAdmitPerTick} per tick, default
 * 200, at most {@code onsaleMaxActive} 1,000 active) lets them through to the seat map. Each fan: token (must be
 * PREQUEUE), stream: the countdown, then the first {@code position} after the opening; then the status until ACTIVE
 * (once a second) and one seat-map read.
 * The concert is made in set-up (its own seats: {@code onsaleSeats} per date, 2 dates, default 1,000).
 * Measured besides Gatling's rows (BENCH-STAT, client clock = service clock, same machine): opening-to-position
 * (the moment a fan's stream shows its drawn place minus opensAt), opening-to-active, and the largest position.
 */
public class OnSaleSimulation extends BenchSimulation {

    static final int FANS = intProp("onsaleFans", 2000);
    static final int JOIN_SECS = intProp("onsaleJoinSecs", 20);
    static final int LEAD_SECS = intProp("onsaleLeadSecs", 15);
    static final int SEATS = intProp("onsaleSeats", 1000);
    static final String RUN = Long.toString(System.currentTimeMillis(), 36);
    static final AtomicLong NEXT = new AtomicLong();
    static final AtomicLong LARGEST_POSITION = new AtomicLong();
    static final Stats OPENING_TO_POSITION = new Stats("onsale.opening-to-position-ms");
    static final Stats OPENING_TO_ACTIVE = new Stats("onsale.opening-to-active-ms");

    static final String TOKEN = "O1 POST /queues/token (pre-queue)";
    static final String COUNTDOWN = "O2 SSE first event (countdown)";
    static final String DRAWN = "O3 SSE position after the draw";
    static final String ACTIVE = "O4 GET /queues/status until ACTIVE";
    static final String SEAT_MAP = "O5 GET /concerts/dates/{id}/seats";

    static volatile List<Prep.Fan> fans = List.of();
    static volatile long concertId;
    static volatile long dateId;
    static volatile Instant opensAt;

    @Override
    protected void prepare() {
        // Fans of their own (any database will do, seeded or not), signed in before the load.
        fans = Prep.parallel("on-sale fan", java.util.stream.IntStream.range(0, FANS).boxed().toList(), i -> {
            Prep.Resp r = Prep.call("POST", "/api/v1/admin/users", Map.of("username", "onsale-" + RUN + "-" + i, "balance", 0), true);
            return r.status() == 201 ? new Prep.Fan(r.num("userId"), Prep.access(r.num("userId"))) : null;
        });
        Prep.requireNonEmpty(fans, "signed-in fans");
        // Opens after everyone could join: the set-up above took its time, the join window starts now.
        opensAt = Instant.now().plusSeconds(JOIN_SECS + LEAD_SECS).truncatedTo(ChronoUnit.MILLIS);
        List<Map<String, Object>> seats = List.of(Map.of("grade", "R", "price", 100_000, "count", SEATS));
        Prep.Resp created = Prep.call("POST", "/api/v1/admin/concerts", Map.of(
                "name", "On-sale bench " + RUN,
                "dates", List.of(
                        Map.of("startsAt", Instant.now().plus(Duration.ofDays(60)).truncatedTo(ChronoUnit.SECONDS).toString(),
                                "venue", "Bench Arena", "seats", seats),
                        Map.of("startsAt", Instant.now().plus(Duration.ofDays(61)).truncatedTo(ChronoUnit.SECONDS).toString(),
                                "venue", "Bench Arena", "seats", seats)),
                "sale", Map.of("prequeueOpensAt", Instant.now().minusSeconds(1).toString(), "opensAt", opensAt.toString())), true);
        if (created.status() != 201) {
            throw new IllegalStateException("creating the on-sale concert failed: HTTP " + created.status() + " " + created.body());
        }
        concertId = created.num("concertId");
        dateId = created.body().get("dates").get(0).get("concertDateId").asLong();
        Prep.policy(concertId, intProp("onsaleAdmitPerTick", 200), intProp("onsaleMaxActive", 1000));
        System.out.println("BENCH-STAT onsale.concert " + concertId + " opensAt " + opensAt);
    }

    @Override
    protected void finish() {
        Prep.Resp sale = Prep.call("GET", "/api/v1/concerts/" + concertId + "/sale", null, false);
        System.out.println("BENCH-STAT onsale.sale " + sale.body());
        System.out.println("BENCH-STAT onsale.largest-position " + LARGEST_POSITION.get() + " of " + FANS);
        System.out.println(OPENING_TO_POSITION.line());
        System.out.println(OPENING_TO_ACTIVE.line());
    }

    ScenarioBuilder scn = scenario("on-sale fans")
            .exec(session -> {
                Prep.Fan fan = fans.get((int) (NEXT.getAndIncrement() % fans.size()));
                return session.set("userId", fan.userId()).set("access", fan.access());
            })
            .exec(http(TOKEN).post("/api/v1/queues/token")
                    .header("Authorization", "Bearer #{access}")
                    .body(StringBody(session -> "{\"concertId\": " + concertId + "}")).asJson()
                    .check(status().in(200, 201), jsonPath("$.status").is("PREQUEUE"), jsonPath("$.token").saveAs("token")))
            .exitHereIfFailed()
            // The countdown first (or, for a fan whose stream opens after the opening, the place at once).
            .exec(sse("sale").get("/api/v1/queues/stream?token=#{token}")
                    .await(Duration.ofSeconds(30))
                    .on(sse.checkMessage(COUNTDOWN).check(jsonPath("$.event").in("prequeue", "position", "active"),
                            jsonPath("$.event").saveAs("firstEvent"))))
            .doIf(session -> "prequeue".equals(session.getString("firstEvent"))).then(
                    exec(sse("sale").setCheck()
                            .await(Duration.ofSeconds(JOIN_SECS + LEAD_SECS + 60))
                            .on(sse.checkMessage(DRAWN).matching(jsonPath("$.event").in("position", "active", "expired", "soldout"))
                                    .check(jsonPath("$.event").in("position", "active"),
                                            jsonPath("$.data.position").ofLong().optional().saveAs("position")))))
            .exec(session -> {
                if (!session.isFailed()) {
                    OPENING_TO_POSITION.add(System.currentTimeMillis() - opensAt.toEpochMilli());
                    if (session.contains("position")) {
                        LARGEST_POSITION.accumulateAndGet(session.getLong("position"), Math::max);
                    }
                }
                return session;
            })
            .exec(sse("sale").close())
            .exitHereIfFailed()
            // Admission: the status until ACTIVE (a stream's active event can pass between two Gatling checks unseen).
            .exec(session -> session.set("queueStatus", ""))
            .asLongAs(session -> !"ACTIVE".equals(session.getString("queueStatus")) && !session.isFailed(), "polls").on(
                    exec(http(ACTIVE).get("/api/v1/queues/status")
                            .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                            .check(status().is(200), jsonPath("$.status").in("WAITING", "ACTIVE").saveAs("queueStatus")))
                            .doIf(session -> !"ACTIVE".equals(session.getString("queueStatus"))).then(pause(Duration.ofSeconds(1))))
            .exec(session -> {
                if (!session.isFailed()) {
                    OPENING_TO_ACTIVE.add(System.currentTimeMillis() - opensAt.toEpochMilli());
                }
                return session;
            })
            .exitHereIfFailed()
            .exec(http(SEAT_MAP).get(session -> "/api/v1/concerts/dates/" + dateId + "/seats")
                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                    .check(status().is(200)));

    {
        setUp(scn.injectOpen(rampUsers(FANS).during(Duration.ofSeconds(JOIN_SECS))).protocols(streamProtocol()))
                .assertions(
                        details(TOKEN).failedRequests().count().is(0L),
                        details(TOKEN).allRequests().count().is((long) FANS),
                        details(COUNTDOWN).failedRequests().count().is(0L),
                        details(DRAWN).failedRequests().count().is(0L),
                        details(ACTIVE).failedRequests().count().is(0L),
                        details(SEAT_MAP).failedRequests().count().is(0L),
                        details(SEAT_MAP).allRequests().count().is((long) FANS));
    }
}
