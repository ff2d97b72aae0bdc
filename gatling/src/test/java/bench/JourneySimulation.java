package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.IntStream;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * The whole fan journey, once per fan: queue token, the SSE stream until {@code active}, the seat map, hold
 * a random free seat from it (on 409 SEAT_UNAVAILABLE, expected and counted, read the map again and try
 * another, up to 5 times), read the balance, charge the difference if it is short, pay.
 * {@code fans} (default 1000) arrive over {@code journeySecs} (default 30) with {@code thinkMs} between steps,
 * for the concerts {@code journeyConcertFrom}..{@code journeyConcertTo} (default the ten after the hot slices, 10,000
 * seats), whose admission is set to {@code journeyAdmitPerTick} (default 100) per tick, at most
 * {@code journeyMaxActive} (default 500) active: the queue really forms. Fans are new users with a balance of
 * 0 (created in set-up through the admin API), so every one of them charges before paying.
 */
public class JourneySimulation extends BenchSimulation {

    static final int FANS = intProp("fans", 1000);
    static final long FROM = intProp("journeyConcertFrom", 5 * HOT + 1);
    static final long TO = intProp("journeyConcertTo", Math.min(CONCERTS - 1, 5 * HOT + 10));
    static final Queue<Prep.Fan> NEW_USERS = new ConcurrentLinkedQueue<>();
    /** Usernames are unique: each run makes its own journey fans. */
    static final String RUN = Long.toString(System.currentTimeMillis(), 36);
    static final Stats JOURNEY = new Stats("journey.token-to-paid-ms");

    static final String TOKEN = "J1 POST /queues/token";
    static final String STREAM = "J2 SSE until active";
    static final String SEATS = "J3 GET /concerts/dates/{id}/seats";
    static final String HOLD = "J4 POST /reservations";
    static final String BALANCE = "J5 GET /users/{id}/balance";
    static final String CHARGE = "J6 PATCH /users/{id}/charge";
    static final String PAY = "J7 POST /payments/pay";

    @Override
    protected void prepare() {
        for (long c = FROM; c <= TO; c++) {
            Prep.policy(c, intProp("journeyAdmitPerTick", 100), intProp("journeyMaxActive", 500));
        }
        NEW_USERS.addAll(Prep.parallel("new fan", IntStream.range(0, FANS).boxed().toList(), i -> {
            Prep.Resp r = Prep.call("POST", "/api/v1/admin/users",
                    Map.of("username", "journey-" + RUN + "-" + i, "balance", 0), true);
            return r.status() == 201 ? new Prep.Fan(r.num("userId"), Prep.access(r.num("userId"))) : null;
        }));
        Prep.requireNonEmpty(List.copyOf(NEW_USERS), "new users");
    }

    @Override
    protected void finish() {
        printExpected();
        System.out.println(JOURNEY.line());
    }

    private static final Duration THINK = Duration.ofMillis(THINK_MS);

    ScenarioBuilder scn = scenario("fan journey")
            .exec(session -> {
                Prep.Fan fan = NEW_USERS.poll();
                long concert = FROM + ThreadLocalRandom.current().nextLong(TO - FROM + 1);
                return (fan == null ? session.markAsFailed() : session.set("userId", fan.userId()).set("access", fan.access()))
                        .set("concertId", concert).set("t0", System.currentTimeMillis()).set("attempts", 0);
            })
            .exec(http(TOKEN).post("/api/v1/queues/token")
                    .header("Authorization", "Bearer #{access}")
                    .body(StringBody("{\"concertId\": #{concertId}}")).asJson()
                    .check(status().in(200, 201), jsonPath("$.token").saveAs("token"), jsonPath("$.status").saveAs("queueStatus")))
            .doIf(session -> !"ACTIVE".equals(session.getString("queueStatus"))).then(
                    exec(sse("journey").get("/api/v1/queues/stream?token=#{token}")
                            .await(Duration.ofSeconds(intProp("activeTimeoutSecs", 300)))
                            .on(sse.checkMessage(STREAM).matching(jsonPath("$.event").in("active", "expired"))
                                    .check(jsonPath("$.event").is("active"))))
                            .exec(sse("journey").close()))
            .exitHereIfFailed()
            .exec(session -> session.set("holdStatus", 0))
            .asLongAs(session -> session.getInt("holdStatus") != 201 && session.getInt("attempts") < 5).on(
                    pause(THINK)
                            .exec(session -> session.set("dateId", (session.getLong("concertId") - 1) * DATES_PER_CONCERT + 1
                                    + ThreadLocalRandom.current().nextInt(DATES_PER_CONCERT))
                                    .set("attempts", session.getInt("attempts") + 1).remove("seatNumber"))
                            .exec(http(SEATS).get("/api/v1/concerts/dates/#{dateId}/seats")
                                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                                    .check(status().is(200), jsonPath("$.seats[*].seatNumber").findRandom().optional().saveAs("seatNumber")))
                            .exitHereIfFailed()
                            .doIf(session -> session.contains("seatNumber")).then(pause(THINK).exec(Journeys.hold(HOLD))))
            .doIf(session -> session.getInt("holdStatus") == 201).then(
                    pause(THINK)
                            .exec(http(BALANCE).get("/api/v1/users/#{userId}/balance").header("Authorization", "Bearer #{access}")
                                    .check(status().is(200), jsonPath("$.balance").ofLong().saveAs("balance")))
                            .doIf(session -> session.getLong("balance") < session.getLong("price")).then(
                                    exec(session -> session.set("topUp", session.getLong("price") - session.getLong("balance")))
                                            .exec(http(CHARGE).patch("/api/v1/users/#{userId}/charge").header("Authorization", "Bearer #{access}")
                                                    .body(StringBody("{\"amount\": #{topUp}}")).asJson()
                                                    .check(status().is(200))))
                            .pause(THINK)
                            .exec(http(PAY).post("/api/v1/payments/pay")
                                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                                    .header("Idempotency-Key", "journey-#{reservationId}")
                                    .body(StringBody("{\"reservationId\": #{reservationId}, \"userId\": #{userId}}")).asJson()
                                    .check(status().is(200), jsonPath("$.status").is("COMPLETED")))
                            .exec(session -> {
                                if (!session.isFailed()) {
                                    JOURNEY.add(System.currentTimeMillis() - session.getLong("t0"));
                                }
                                return session;
                            }));

    {
        List<Assertion> checks = new ArrayList<>();
        for (String n : List.of(TOKEN, SEATS, HOLD, BALANCE, CHARGE, PAY)) {
            checks.add(details(n).responseTime().percentile(99.0).lt(P99_MS));
            checks.add(details(n).failedRequests().count().is(0L));
        }
        checks.add(details(STREAM).failedRequests().count().is(0L));
        checks.add(details(TOKEN).allRequests().count().is((long) FANS));
        checks.add(details(PAY).allRequests().count().gte((long) (FANS * intProp("journeyMinPaidPct", 90) / 100)));
        setUp(scn.injectOpen(rampUsers(FANS).during(Duration.ofSeconds(intProp("journeySecs", 30)))).protocols(streamProtocol()))
                .assertions(checks);
    }
}
