package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.http.HttpRequestActionBuilder;

/**
 * The fan journey of the fault bench (issue 20, {@code bin/faults}): fans arrive at a steady open-model rate
 * ({@code rate} per second for {@code secs} seconds) into one concert that the bench created ({@code concertId},
 * {@code dateIds}), and behave as a real client does while something is broken: a 503 (or no answer, or the
 * balancer's 502/504) is retried after its Retry-After with the same request (payments with the same
 * Idempotency-Key), a broken or failed stream is opened again (and the status read in between), a seat taken
 * by someone else (409) makes them try another one. Fans have a balance (set-up), so they do not charge.
 *
 * <p>Every answer is written to {@code out}/requests.csv (epoch ms, request, status, code, response ms, retry
 * after) and every fan's end to {@code out}/fans.csv (user, reservation, paid, outcome, join position, the largest
 * position seen later, stream reconnects): the bench turns them into its per-second table and its data checks.
 * {@code out}/load-started holds the epoch ms at which the load began (after the set-up), for the fault's timing.
 */
public class FaultJourneySimulation extends BenchSimulation {

    static final int FAN_RATE = intProp("rate", 5);
    static final int SECS = intProp("secs", 120);
    static final long CONCERT = Long.parseLong(prop("concertId", "1"));
    static final List<Long> DATES = Arrays.stream(prop("dateIds", "1").split(",")).map(String::trim).map(Long::parseLong).toList();
    static final Path OUT = Path.of(prop("out", "target/faults"));
    static final int RETRIES = intProp("retries", 40);
    static final String RUN = prop("run", Long.toString(System.currentTimeMillis(), 36));
    static final Queue<Prep.Fan> FANS = new ConcurrentLinkedQueue<>();
    static final Queue<String> REQUESTS = new ConcurrentLinkedQueue<>();
    static final Queue<String> ENDS = new ConcurrentLinkedQueue<>();
    static final Pattern CODE = Pattern.compile("\"code\"\\s*:\\s*\"([A-Z_]+)\"");
    static final Pattern POSITION = Pattern.compile("\"position\"\\s*:\\s*(\\d+)");
    static final Pattern STATUS = Pattern.compile("\"status\"\\s*:\\s*\"([A-Z]+)\"");

    @Override
    protected void prepare() {
        int fans = FAN_RATE * SECS;
        long balance = Long.parseLong(prop("balance", "1000000"));
        FANS.addAll(Prep.parallel("fault fan", IntStream.range(0, fans).boxed().toList(), i -> {
            Prep.Resp r = Prep.call("POST", "/api/v1/admin/users", Map.of("username", "fault-" + RUN + "-" + i, "balance", balance), true);
            return r.status() == 201 ? new Prep.Fan(r.num("userId"), Prep.access(r.num("userId"))) : null;
        }));
        Prep.requireNonEmpty(List.copyOf(FANS), "fault fans");
        try {
            Files.createDirectories(OUT);
            Files.writeString(OUT.resolve("load-started"), Long.toString(System.currentTimeMillis()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    protected void finish() {
        try {
            Files.write(OUT.resolve("requests.csv"), concat("epoch_ms,request,status,code,response_ms,retry_after", REQUESTS));
            Files.write(OUT.resolve("fans.csv"), concat("user_id,reservation_id,paid,outcome,join_position,max_position_after,reconnects", ENDS));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        System.out.println("BENCH-FAULTS requests=" + REQUESTS.size() + " fans=" + ENDS.size());
    }

    private static List<String> concat(String header, Queue<String> lines) {
        List<String> all = new ArrayList<>(lines.size() + 1);
        all.add(header);
        all.addAll(lines);
        return all;
    }

    private static String code(String body) {
        if (body == null) {
            return "";
        }
        Matcher m = CODE.matcher(body);
        return m.find() ? m.group(1) : "";
    }

    /**
     * One request as a client that retries what may succeed later: no answer, 502/503/504, 429, and
     * IDEMPOTENCY_IN_PROGRESS, after Retry-After (default 1 s), at most {@code retries} times. Every attempt is
     * recorded. Leaves #{st} (0: no answer), #{body} and #{code} of the last attempt.
     */
    static ChainBuilder call(String name, HttpRequestActionBuilder request) {
        return exec(s -> s.set("tries", 0).set("done", false))
                .asLongAs(s -> !s.getBoolean("done")).on(
                        exec(s -> s.remove("st").remove("body").remove("ra").remove("rt"))
                                .exec(request.check(status().saveAs("st"), responseTimeInMillis().saveAs("rt"),
                                        bodyString().saveAs("body"), header("Retry-After").optional().saveAs("ra")))
                                .exec(s -> {
                                    int st = s.contains("st") ? s.getInt("st") : 0;
                                    String body = s.contains("body") ? s.getString("body") : "";
                                    String code = code(body);
                                    String ra = s.contains("ra") ? s.getString("ra") : "";
                                    long rt = s.contains("rt") ? s.getLong("rt") : -1;
                                    REQUESTS.add(System.currentTimeMillis() + "," + name + "," + st + "," + code + "," + rt + "," + ra);
                                    boolean retry = st == 0 || st == 502 || st == 503 || st == 504 || st == 429
                                            || "IDEMPOTENCY_IN_PROGRESS".equals(code);
                                    int tries = s.getInt("tries") + 1;
                                    long wait = 1000;
                                    try {
                                        wait = ra.isEmpty() ? 1000 : Math.min(5, Math.max(1, Long.parseLong(ra.trim()))) * 1000;
                                    } catch (NumberFormatException e) {
                                        // an HTTP date: 1 s
                                    }
                                    return s.markAsSucceeded().set("st", st).set("body", body).set("code", code)
                                            .set("tries", tries).set("wait", wait).set("done", !retry || tries >= RETRIES);
                                })
                                .doIf(s -> !s.getBoolean("done")).then(pause(s -> Duration.ofMillis(s.getLong("wait")))));
    }

    static boolean ok(Session s) {
        int st = s.getInt("st");
        return st >= 200 && st < 300;
    }

    static Session end(Session s, String outcome) {
        ENDS.add(s.getLong("userId") + "," + (s.contains("reservationId") ? s.getLong("reservationId") : 0) + ","
                + ("paid".equals(outcome) ? 1 : 0) + "," + outcome + "," + s.getInt("joinPosition") + "," + s.getInt("maxAfter")
                + "," + s.getInt("reconnects"));
        return s.set("ended", true);
    }

    /** A position read later: never larger than the one given at join (the place only moves forward). */
    static Session sawPosition(Session s, String body) {
        Matcher m = POSITION.matcher(body == null ? "" : body);
        return m.find() ? s.set("maxAfter", Math.max(s.getInt("maxAfter"), Integer.parseInt(m.group(1)))) : s;
    }

    ScenarioBuilder scn = scenario("fault journey")
            .exec(s -> {
                Prep.Fan fan = FANS.poll();
                if (fan == null) {
                    return s.markAsFailed().set("ended", true);
                }
                return s.set("userId", fan.userId()).set("access", fan.access()).set("ended", false).set("joinPosition", 0)
                        .set("maxAfter", 0).set("reconnects", 0).set("active", false).set("holds", 0);
            })
            .exitHereIf(s -> s.getBoolean("ended"))
            .exec(call("POST /queues/token", http("token").post("/api/v1/queues/token").header("Authorization", "Bearer #{access}")
                    .body(StringBody("{\"concertId\": " + CONCERT + "}")).asJson()))
            .exec(s -> {
                if (!ok(s)) {
                    return end(s, "token " + s.getInt("st") + " " + s.getString("code"));
                }
                String body = s.getString("body");
                Matcher t = Pattern.compile("\"token\"\\s*:\\s*\"([^\"]+)\"").matcher(body);
                Matcher st = STATUS.matcher(body);
                Matcher p = POSITION.matcher(body);
                return s.set("token", t.find() ? t.group(1) : "").set("active", st.find() && st.group(1).equals("ACTIVE"))
                        .set("joinPosition", p.find() ? Integer.parseInt(p.group(1)) : 0);
            })
            .exitHereIf(s -> s.getBoolean("ended"))
            // Until admitted: the stream (reopened when it breaks or fails), with a status read between two streams.
            .exec(s -> s.set("streams", 0))
            .asLongAs(s -> !s.getBoolean("active") && !s.getBoolean("ended")).on(
                    exec(s -> s.remove("ev"))
                            .exec(sse("queue stream").get("/api/v1/queues/stream?token=#{token}")
                                    .await(Duration.ofSeconds(intProp("activeTimeoutSecs", 180)))
                                    .on(sse.checkMessage("SSE until active or expired").matching(jsonPath("$.event").in("active", "expired"))
                                            .check(jsonPath("$.event").saveAs("ev"))))
                            .exec(sse("queue stream").close())
                            .exec(s -> {
                                String ev = s.contains("ev") ? s.getString("ev") : "";
                                REQUESTS.add(System.currentTimeMillis() + ",SSE until active," + (ev.isEmpty() ? 0 : 200) + "," + ev + ",-1,");
                                int streams = s.getInt("streams") + 1;
                                Session next = s.markAsSucceeded().set("streams", streams);
                                if (ev.equals("active")) {
                                    return next.set("active", true);
                                }
                                if (ev.equals("expired")) {
                                    return end(next, "expired while waiting");
                                }
                                if (streams > 30) {
                                    return end(next, "never admitted");
                                }
                                return next.set("reconnects", s.getInt("reconnects") + 1);
                            })
                            .doIf(s -> !s.getBoolean("active") && !s.getBoolean("ended")).then(
                                    pause(Duration.ofSeconds(1))
                                            .exec(call("GET /queues/status", http("status").get("/api/v1/queues/status")
                                                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")))
                                            .exec(s -> {
                                                if (!ok(s)) {
                                                    return s;
                                                }
                                                String body = s.getString("body");
                                                Matcher st = STATUS.matcher(body);
                                                return sawPosition(s, body).set("active", st.find() && st.group(1).equals("ACTIVE"));
                                            })))
            .exitHereIf(s -> s.getBoolean("ended"))
            // A seat: read the date's free seats, hold a random one; someone else's seat (409) means another try.
            .exec(s -> s.set("held", false).set("seatTries", 0))
            .asLongAs(s -> !s.getBoolean("held") && !s.getBoolean("ended")).on(
                    exec(s -> s.set("dateId", DATES.get(ThreadLocalRandom.current().nextInt(DATES.size()))).set("seatTries", s.getInt("seatTries") + 1))
                            .exec(call("GET /concerts/dates/{id}/seats", http("seats").get("/api/v1/concerts/dates/#{dateId}/seats")
                                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")))
                            .exec(s -> {
                                if (!ok(s)) {
                                    return end(s, "seats " + s.getInt("st") + " " + s.getString("code"));
                                }
                                Matcher m = Pattern.compile("\"seatNumber\"\\s*:\\s*(\\d+)").matcher(s.getString("body"));
                                List<Integer> free = new ArrayList<>();
                                while (m.find()) {
                                    free.add(Integer.parseInt(m.group(1)));
                                }
                                return free.isEmpty() ? s.set("seat", 0) : s.set("seat", free.get(ThreadLocalRandom.current().nextInt(free.size())));
                            })
                            .doIf(s -> !s.getBoolean("ended") && s.getInt("seat") > 0).then(
                                    exec(call("POST /reservations", http("hold").post("/api/v1/reservations")
                                            .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                                            .body(StringBody("{\"userId\": #{userId}, \"concertDateId\": #{dateId}, \"seatNumber\": #{seat}}")).asJson()))
                                            .exec(s -> {
                                                if (s.getInt("st") == 201) {
                                                    Matcher m = Pattern.compile("\"reservationId\"\\s*:\\s*(\\d+)").matcher(s.getString("body"));
                                                    return m.find() ? s.set("held", true).set("reservationId", Long.parseLong(m.group(1))) : s;
                                                }
                                                if (s.getInt("st") == 409) {
                                                    return s; // taken (by another fan, or by this fan's own hold whose answer was lost)
                                                }
                                                return end(s, "hold " + s.getInt("st") + " " + s.getString("code"));
                                            }))
                            .doIf(s -> !s.getBoolean("held") && !s.getBoolean("ended") && s.getInt("seatTries") >= 8)
                            .then(exec(s -> end(s, "no seat"))))
            .exitHereIf(s -> s.getBoolean("ended"))
            .pause(Duration.ofMillis(intProp("thinkMs", 500)))
            .exec(call("POST /payments/pay", http("pay").post("/api/v1/payments/pay")
                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                    .header("Idempotency-Key", "fault-#{reservationId}")
                    .body(StringBody("{\"reservationId\": #{reservationId}, \"userId\": #{userId}}")).asJson()))
            .exec(s -> ok(s) ? end(s, "paid") : end(s, "pay " + s.getInt("st") + " " + s.getString("code")));

    {
        setUp(scn.injectOpen(constantUsersPerSec(FAN_RATE).during(Duration.ofSeconds(SECS))).protocols(streamProtocol()));
    }
}
