package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * SSE subscribers: {@code subscribers} fans (default 1000) of one concert ({@code sseConcert}, default the
 * last seeded one) take a queue token and open the stream while admission is paused (policy admitPerTick=0),
 * so that all of them are held open at once; {@code connectSecs} after the start an operator opens admission
 * ({@code sseAdmitPerTick} per tick, default subscribers/10) and every stream must end with an {@code active}
 * event. Measured: time to the first event (BENCH-STAT from the start of the connect; Gatling row "SSE first event" counts from the open stream), the largest number
 * of streams open at once (BENCH-STAT), token-to-active, and admission-to-active delivery latency: the
 * moment the client receives {@code active} minus the admission moment (activeUntil - activeTtlSecs, same
 * machine clock).
 */
public class SseSimulation extends BenchSimulation {

    static final int SUBSCRIBERS = intProp("subscribers", 1000);
    static final int CONNECT_SECS = intProp("connectSecs", 20);
    static final long CONCERT = intProp("sseConcert", CONCERTS);
    static final int ADMIT = intProp("sseAdmitPerTick", Math.max(1, SUBSCRIBERS / 10));
    static final long ACTIVE_TTL_MS = intProp("activeTtlSecs", 600) * 1000L;
    static final AtomicLong NEXT_USER = new AtomicLong(intProp("firstUser", 6001));
    static final AtomicInteger OPEN = new AtomicInteger();
    static final AtomicInteger MAX_OPEN = new AtomicInteger();
    static final Stats FIRST_EVENT = new Stats("sse.connect-to-first-event-ms");
    static final Stats TOKEN_TO_ACTIVE = new Stats("sse.token-to-active-ms");
    static final Stats ADMISSION_TO_ACTIVE = new Stats("sse.admission-to-active-ms");

    static volatile List<Prep.Fan> SUBSCRIBING_FANS = List.of();

    @Override
    protected void prepare() {
        Prep.policy(CONCERT, 0, SUBSCRIBERS);
        SUBSCRIBING_FANS = Prep.fans(SUBSCRIBERS);
        Prep.requireNonEmpty(SUBSCRIBING_FANS, "signed-in fans");
    }

    @Override
    protected void finish() {
        System.out.println("BENCH-STAT sse.max-open-streams " + MAX_OPEN.get() + " of " + SUBSCRIBERS);
        System.out.println(FIRST_EVENT.line());
        System.out.println(TOKEN_TO_ACTIVE.line());
        System.out.println(ADMISSION_TO_ACTIVE.line());
    }

    ScenarioBuilder fans = scenario("SSE subscribers")
            .exec(session -> {
                Prep.Fan fan = SUBSCRIBING_FANS.get((int) ((NEXT_USER.getAndIncrement() - 1) % SUBSCRIBING_FANS.size()));
                return session.set("userId", fan.userId()).set("access", fan.access()).set("t0", System.currentTimeMillis());
            })
            .exec(http("POST /queues/token (sse)").post("/api/v1/queues/token")
                    .header("Authorization", "Bearer #{access}")
                    .body(StringBody("{\"concertId\": " + CONCERT + "}")).asJson()
                    .check(status().in(200, 201), jsonPath("$.token").saveAs("token")))
            .exec(session -> session.set("tConnect", System.currentTimeMillis()))
            .exec(sse("stream").get("/api/v1/queues/stream?token=#{token}")
                    .await(Duration.ofSeconds(30))
                    .on(sse.checkMessage("SSE first event").check(jsonPath("$.event").saveAs("firstEvent"))))
            .exec(session -> {
                if (!session.isFailed()) {
                    FIRST_EVENT.add(System.currentTimeMillis() - session.getLong("tConnect"));
                    int open = OPEN.incrementAndGet();
                    MAX_OPEN.accumulateAndGet(open, Math::max);
                }
                return session;
            })
            .doIf(session -> !session.isFailed() && !"active".equals(session.getString("firstEvent"))).then(
                    exec(sse("stream").setCheck()
                            .await(Duration.ofSeconds(intProp("activeTimeoutSecs", CONNECT_SECS + 120)))
                            .on(sse.checkMessage("SSE active event")
                                    .matching(jsonPath("$.event").in("active", "expired"))
                                    .check(jsonPath("$.event").is("active"), jsonPath("$.data.activeUntil").saveAs("activeUntil")))))
            .exec(session -> {
                long now = System.currentTimeMillis();
                if (session.contains("firstEvent")) {
                    OPEN.decrementAndGet();
                }
                if (session.contains("activeUntil")) {
                    TOKEN_TO_ACTIVE.add(now - session.getLong("t0"));
                    long admitted = Instant.parse(session.getString("activeUntil")).toEpochMilli() - ACTIVE_TTL_MS;
                    ADMISSION_TO_ACTIVE.add(now - admitted);
                }
                return session;
            })
            .exec(sse("stream").close());

    ScenarioBuilder operator = scenario("operator")
            .pause(Duration.ofSeconds(CONNECT_SECS + 5))
            .exec(http("PUT /admin/queues/{id}/policy").put("/api/v1/admin/queues/" + CONCERT + "/policy")
                    .header("X-Admin-Key", ADMIN_KEY)
                    .body(StringBody("{\"admitPerTick\": " + ADMIT + ", \"maxActive\": " + SUBSCRIBERS + "}")).asJson()
                    .check(status().in(200, 204)));

    {
        setUp(fans.injectOpen(rampUsers(SUBSCRIBERS).during(Duration.ofSeconds(CONNECT_SECS))).protocols(streamProtocol()),
                operator.injectOpen(atOnceUsers(1)).protocols(protocol()))
                .assertions(
                        details("SSE first event").responseTime().percentile(99.0).lt(intProp("p99FirstEvent", 500)),
                        details("SSE first event").failedRequests().count().is(0L),
                        details("SSE first event").allRequests().count().is((long) SUBSCRIBERS),
                        details("SSE active event").failedRequests().count().is(0L),
                        details("SSE active event").allRequests().count().is((long) SUBSCRIBERS),
                        details("POST /queues/token (sse)").failedRequests().count().is(0L));
    }
}
