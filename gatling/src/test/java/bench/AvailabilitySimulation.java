package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.gatling.http.response.Response;
import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.netty.handler.codec.http.HttpHeaderNames;

/**
 * Issue 18: a 50,000-seat date's availability (API 20) at 1,000 requests/s, open model, while its seats change
 * underneath (holds at 50/s): p99 per request, and the bytes of a full answer and of a delta on the wire.
 * <p>
 * <b>Set-up (not measured).</b> A concert of its own with one date of {@code availSeats} (50,000) seats in three
 * grades, made through the operator API (or {@code -DavailDateId=N}: an existing date, its concert read from the
 * public layout); its queue policy admits everyone ({@code activeTtlSeconds} 1800, so no pass runs out during the
 * run); ACTIVE passes for {@code readerFans} (1,000) readers and for the holders, seeded users from
 * {@code availFirstUser} (1) on; the date's free seats shuffled, so each hold takes a distinct free seat; then an
 * unmeasured warm-up of the availability route ({@code availWarmup} requests, default 2,000, full and since) and of
 * holds ({@code holdWarmup}, default 100 holds by holders of their own), since bin/bench runs this with --no-warmup.
 * <p>
 * <b>Readers</b> ({@code rate}, default 1,000 requests/s): each virtual user stands for one browser tab. It asks
 * for the full document once ({@code availability full}), then polls {@code polls} (9) times, {@code pollMs}
 * (1,000 ms) apart, with {@code ?since=<version of its last answer>} and {@code If-None-Match: <its ETag>}
 * ({@code availability since}: 200 with the changes, 200 with the full document and {@code "full":true} when the
 * version is too old, or 304). New tabs arrive at rate / (1 + polls) per second (open model: arrivals do not wait
 * for answers), so requests reach {@code rate}/s once the first tabs are polling ({@code polls} s after the start)
 * and {@code rate * duration} requests are made in all. Like a browser, every request sends
 * {@code Accept-Encoding: gzip, deflate, br}; the body's bytes are its Content-Length as sent. The service does not
 * compress this route today. If it did, Gatling would decode the body and drop Content-Length (Netty's decompressor),
 * and the decoded length would be counted instead: the report's "content-encoded" and "without Content-Length" columns
 * say when that happened.
 * <p>
 * <b>Holders</b> ({@code holdRate}, default 50/s, open model): each virtual user is a different fan with an ACTIVE
 * pass who holds one distinct free seat of the date ({@code POST /reservations (hold)}), far from the limits of 4
 * holds and 4 tickets per fan. A holder that finds no fan or seat left does nothing (counted: BENCH-EXPECTED).
 * <p>
 * Both run for {@code duration} s (default 60). Reported, not enforced: Gatling assertions of p99 under
 * {@code availP99} ms (100) and no failed request per request name (a failed assertion makes the run's exit
 * non-zero, which bin/bench records and carries on), and BENCH-BYTES lines: the size of each kind of answer,
 * body and whole response (status line + headers + body, HTTP/1.1), which bin/bench's report turns into a table.
 */
public class AvailabilitySimulation extends BenchSimulation {

    static final String FULL = "availability full";
    static final String SINCE = "availability since";
    static final String HOLD = "POST /reservations (hold)";

    static final int READ_RATE = intProp("rate", 1000);
    static final int HOLD_RATE = intProp("holdRate", 50);
    static final int DURATION = intProp("duration", 60);
    static final int POLLS = intProp("polls", 9);
    static final int POLL_MS = intProp("pollMs", 1000);
    static final int SEATS = intProp("availSeats", 50_000);
    static final int READER_FANS = intProp("readerFans", 1000);
    static final int FIRST_USER = intProp("availFirstUser", 1);
    static final int WARMUP = intProp("availWarmup", 2000);
    static final int HOLD_WARMUP = intProp("holdWarmup", 100);
    static final int TARGET_P99 = intProp("availP99", 100);
    static final long GIVEN_DATE = Long.parseLong(prop("availDateId", "0"));

    static volatile long concertId;
    static volatile long dateId;
    static volatile List<Prep.Pass> readers = List.of();
    static final ConcurrentLinkedQueue<Prep.Pass> holders = new ConcurrentLinkedQueue<>();
    static final ConcurrentLinkedQueue<Integer> freeSeats = new ConcurrentLinkedQueue<>();
    static volatile long startVersion;
    static volatile int startFree;
    static final AtomicInteger holdsSent = new AtomicInteger();

    // ------------------------------------------------------------------ set-up

    @Override
    protected void prepare() {
        if (GIVEN_DATE > 0) {
            Prep.Resp layout = Prep.call("GET", "/api/v1/concerts/dates/" + GIVEN_DATE + "/layout", null, false);
            if (layout.status() != 200) {
                throw new IllegalStateException("date " + GIVEN_DATE + ": layout answered " + layout.status() + " " + layout.body());
            }
            dateId = GIVEN_DATE;
            concertId = layout.num("concertId");
        } else {
            createDate();
        }
        Prep.Resp policy = Prep.call("PUT", "/api/v1/admin/queues/" + concertId + "/policy",
                Map.of("admitPerTick", 1_000_000, "maxActive", 10_000_000, "activeTtlSeconds", 1800), true);
        if (policy.status() / 100 != 2) {
            throw new IllegalStateException("queue policy of concert " + concertId + ": " + policy.status() + " " + policy.body());
        }

        int holdFans = (int) Math.ceil(HOLD_RATE * (double) DURATION * 1.1) + 20;
        int needed = READER_FANS + HOLD_WARMUP + holdFans;
        if (FIRST_USER - 1 + needed > USERS) {
            throw new IllegalStateException("needs users " + FIRST_USER + ".." + (FIRST_USER - 1 + needed) + " but only " + USERS
                    + " are seeded: lower readerFans, holdRate or duration");
        }
        List<long[]> pairs = new ArrayList<>(needed);
        for (int i = 0; i < needed; i++) {
            pairs.add(new long[] {FIRST_USER + i, concertId});
        }
        List<Prep.Pass> passes = new ArrayList<>(Prep.activePasses(pairs, Duration.ofSeconds(intProp("admitWaitSecs", 120))));
        passes.sort((a, b) -> Long.compare(a.userId(), b.userId()));
        List<Prep.Pass> readerPasses = new ArrayList<>();
        List<Prep.Pass> holderPasses = new ArrayList<>();
        for (Prep.Pass p : passes) {
            (p.userId() < FIRST_USER + READER_FANS ? readerPasses : holderPasses).add(p);
        }
        readers = readerPasses;
        Prep.requireNonEmpty(readers, "ACTIVE reader passes");
        Collections.shuffle(holderPasses);

        // The date's free seats as the service sees them (a reused date may have seats taken already), shuffled.
        Prep.Pass any = readers.get(0);
        Prep.Resp full = Prep.call("GET", "/api/v1/concerts/dates/" + dateId + "/availability", null, any.access(), any.token(), false);
        if (full.status() != 200 || full.text("free") == null) {
            throw new IllegalStateException("availability of date " + dateId + ": " + full.status() + " " + full.body());
        }
        List<Integer> free = freeSeats(full.text("free"), (int) full.num("seatCount"));
        Collections.shuffle(free);
        freeSeats.addAll(free);
        System.out.printf("BENCH-STAT availability.set-up date %d (concert %d): %d seats, %d free, version %d; %d reader passes,"
                        + " %d holder passes (%d for the warm-up)%n",
                dateId, concertId, full.num("seatCount"), free.size(), full.num("version"), readers.size(), holderPasses.size(),
                Math.min(HOLD_WARMUP, holderPasses.size()));

        warmUp(holderPasses);
        holders.addAll(holderPasses);

        Prep.Resp now = Prep.call("GET", "/api/v1/concerts/dates/" + dateId + "/availability", null, any.access(), any.token(), false);
        startVersion = now.num("version");
        startFree = freeSeats(now.text("free"), (int) now.num("seatCount")).size();
    }

    private void createDate() {
        int vip = SEATS / 10, r = SEATS * 3 / 10;
        List<Map<String, Object>> seats = List.of(Map.of("grade", "VIP", "price", 150_000, "count", vip),
                Map.of("grade", "R", "price", 120_000, "count", r), Map.of("grade", "S", "price", 90_000, "count", SEATS - vip - r));
        String run = Long.toString(System.currentTimeMillis(), 36);
        Prep.Resp created = Prep.call("POST", "/api/v1/admin/concerts", Map.of(
                "name", "Availability bench " + run,
                "description", "issue 18 load simulation: " + SEATS + "-seat date",
                "dates", List.of(Map.of("startsAt", Instant.now().plus(Duration.ofDays(90)).truncatedTo(ChronoUnit.SECONDS).toString(),
                        "venue", "Bench Stadium", "seats", seats))), true);
        if (created.status() != 201) {
            throw new IllegalStateException("creating the " + SEATS + "-seat concert failed: " + created.status() + " " + created.body());
        }
        concertId = created.num("concertId");
        dateId = created.body().get("dates").get(0).get("concertDateId").asLong();
    }

    /** Seat numbers whose bit is set: bit n-1, least significant first within each byte (SPEC 3). */
    static List<Integer> freeSeats(String base64, int seatCount) {
        byte[] bits = Base64.getDecoder().decode(base64);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < seatCount && (i >> 3) < bits.length; i++) {
            if ((bits[i >> 3] & (1 << (i & 7))) != 0) {
                out.add(i + 1);
            }
        }
        return out;
    }

    /** Unmeasured: the availability route (full, then since its answer) and a few holds, so the JIT has seen them. */
    private void warmUp(List<Prep.Pass> holderPasses) {
        List<Integer> calls = new ArrayList<>();
        for (int i = 0; i < WARMUP / 2; i++) {
            calls.add(i);
        }
        Prep.parallel("availability warm-up (full + since)", calls, i -> {
            Prep.Pass p = readers.get(i % readers.size());
            String path = "/api/v1/concerts/dates/" + dateId + "/availability";
            Prep.Resp first = Prep.call("GET", path, null, p.access(), p.token(), false);
            if (first.status() != 200) {
                return null;
            }
            Prep.Resp next = Prep.call("GET", path + "?since=" + Math.max(0, first.num("version") - 20), null, p.access(), p.token(), false);
            return next.status() == 200 ? i : null;
        });
        List<Prep.Pass> warmHolders = new ArrayList<>();
        while (warmHolders.size() < HOLD_WARMUP && !holderPasses.isEmpty()) {
            warmHolders.add(holderPasses.remove(holderPasses.size() - 1));
        }
        if (!warmHolders.isEmpty()) {
            Prep.parallel("hold warm-up", warmHolders, p -> {
                Integer seat = freeSeats.poll();
                if (seat == null) {
                    return null;
                }
                Prep.Resp r = Prep.call("POST", "/api/v1/reservations",
                        Map.of("userId", p.userId(), "concertDateId", dateId, "seatNumber", seat), p.access(), p.token(), false);
                return r.status() == 201 ? seat : null;
            });
        }
    }

    // ------------------------------------------------------------------ measurements: sizes of the answers

    /** Sizes of one kind of answer: the body (as sent: Content-Length) and the whole response. */
    static final class Sizes {
        final String name;
        final ConcurrentLinkedQueue<long[]> values = new ConcurrentLinkedQueue<>();
        final AtomicLong encoded = new AtomicLong();
        final AtomicLong unsized = new AtomicLong();

        Sizes(String name) {
            this.name = name;
        }

        void add(long body, long wire, long changes) {
            values.add(new long[] {body, wire, changes});
        }

        String line() {
            List<long[]> v = new ArrayList<>(values);
            if (v.isEmpty()) {
                return "BENCH-BYTES " + name + ": count=0";
            }
            return String.format("BENCH-BYTES %s: count=%d body p50=%d p95=%d p99=%d max=%d mean=%.0f; wire p50=%d p95=%d p99=%d max=%d"
                            + " mean=%.0f; changes p50=%d p95=%d max=%d; content-encoded=%d; without content-length=%d",
                    name, v.size(), pct(v, 0, 50), pct(v, 0, 95), pct(v, 0, 99), pct(v, 0, 100), mean(v, 0),
                    pct(v, 1, 50), pct(v, 1, 95), pct(v, 1, 99), pct(v, 1, 100), mean(v, 1),
                    pct(v, 2, 50), pct(v, 2, 95), pct(v, 2, 100), encoded.get(), unsized.get());
        }

        private static long pct(List<long[]> v, int field, double p) {
            long[] sorted = v.stream().mapToLong(x -> x[field]).sorted().toArray();
            int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
        }

        private static double mean(List<long[]> v, int field) {
            return v.stream().mapToLong(x -> x[field]).average().orElse(0);
        }
    }

    static final Sizes FULL_SIZES = new Sizes("full (first GET, no since)");
    static final Sizes DELTA_SIZES = new Sizes("delta (since, 200 with changes)");
    static final Sizes SINCE_FULL_SIZES = new Sizes("since answered in full (200, \"full\":true)");
    static final Sizes NOT_MODIFIED_SIZES = new Sizes("since, 304 Not Modified");
    private static final byte[] FULL_TAIL = ",\"full\":true}".getBytes(StandardCharsets.US_ASCII);

    /** Classifies an answer and records its size; the response goes on to the checks unchanged. */
    static Response measure(Response response, boolean since) {
        int status = response.status().code();
        if (status != 200 && status != 304) {
            return response;
        }
        var headers = response.headers();
        byte[] body = response.body().bytes();
        String length = headers.get(HttpHeaderNames.CONTENT_LENGTH);
        long bodyBytes = length != null ? Long.parseLong(length.trim()) : body.length;
        // HTTP/1.1 as sent: status line, each "Name: value\r\n", the blank line, the body (chunk framing not counted).
        long wire = ("HTTP/1.1 " + status + " " + response.status().reasonPhrase() + "\r\n").length() + 2 + bodyBytes;
        for (Map.Entry<String, String> h : headers) {
            wire += h.getKey().length() + 2 + h.getValue().length() + 2;
        }
        Sizes kind;
        long changes = 0;
        if (status == 304) {
            kind = NOT_MODIFIED_SIZES;
        } else if (!since) {
            kind = FULL_SIZES;
        } else if (endsWith(body, FULL_TAIL)) {
            kind = SINCE_FULL_SIZES;
        } else {
            kind = DELTA_SIZES;
            for (byte b : body) {
                if (b == '[') {
                    changes++;
                }
            }
            changes = Math.max(0, changes - 1); // the "changes" array's own bracket
        }
        kind.add(bodyBytes, wire, changes);
        if (headers.contains(HttpHeaderNames.CONTENT_ENCODING)) {
            kind.encoded.incrementAndGet();
        }
        if (length == null && status == 200) {
            // Chunked, or a client that decoded a compressed body (which drops Content-Length): the body's own length
            // was counted instead, which may be the decoded size. The report shows how often.
            kind.unsized.incrementAndGet();
        }
        return response;
    }

    private static boolean endsWith(byte[] body, byte[] tail) {
        if (body.length < tail.length) {
            return false;
        }
        for (int i = 0; i < tail.length; i++) {
            if (body[body.length - tail.length + i] != tail[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    protected void finish() {
        System.out.println(FULL_SIZES.line());
        System.out.println(DELTA_SIZES.line());
        System.out.println(SINCE_FULL_SIZES.line());
        System.out.println(NOT_MODIFIED_SIZES.line());
        if (!readers.isEmpty()) {
            Prep.Pass any = readers.get(0);
            Prep.Resp end = Prep.call("GET", "/api/v1/concerts/dates/" + dateId + "/availability", null, any.access(), any.token(), false);
            if (end.status() == 200 && end.text("free") != null) {
                System.out.printf("BENCH-STAT availability.seats-changed during the load: version %d -> %d, free seats %d -> %d,"
                                + " holds sent %d%n", startVersion, end.num("version"), startFree,
                        freeSeats(end.text("free"), (int) end.num("seatCount")).size(), holdsSent.get());
            }
        }
        printExpected();
    }

    // ------------------------------------------------------------------ the load

    static HttpProtocolBuilder browserLike() {
        return protocol().acceptEncodingHeader("gzip, deflate, br");
    }

    static Session asRandomReader(Session session) {
        Prep.Pass p = readers.get(ThreadLocalRandom.current().nextInt(readers.size()));
        return session.set("token", p.token()).set("access", p.access());
    }

    ScenarioBuilder readersScn = scenario("availability readers")
            .exec(AvailabilitySimulation::asRandomReader)
            .exec(http(FULL).get(session -> "/api/v1/concerts/dates/" + dateId + "/availability")
                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                    .transformResponse((response, session) -> measure(response, false))
                    .check(status().is(200), regex("\"version\":(\\d+)").saveAs("version")))
            .exitHereIfFailed()
            .repeat(POLLS).on(pause(Duration.ofMillis(POLL_MS))
                    .exec(http(SINCE).get(session -> "/api/v1/concerts/dates/" + dateId + "/availability?since=" + session.getString("version"))
                            .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                            // The ETag is the version in quotes (none while the service is unversioned: version 0).
                            .header("If-None-Match", session -> "\"" + session.getString("version") + "\"")
                            .transformResponse((response, session) -> measure(response, true))
                            .check(status().in(200, 304), regex("\"version\":(\\d+)").optional().saveAs("version"))));

    ScenarioBuilder holdersScn = scenario("holders")
            .exec(session -> {
                Prep.Pass p = holders.poll();
                Integer seat = p == null ? null : freeSeats.poll();
                if (seat == null) {
                    expected(HOLD + " not sent: no " + (p == null ? "fan" : "free seat") + " left (set-up too small)");
                    return session.set("skip", true);
                }
                holdsSent.incrementAndGet();
                return session.set("skip", false).set("token", p.token()).set("access", p.access()).set("userId", p.userId())
                        .set("seatNumber", seat);
            })
            .doIf(session -> !session.getBoolean("skip")).then(
                    exec(http(HOLD).post("/api/v1/reservations")
                            .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                            .body(StringBody(session -> "{\"userId\": " + session.getLong("userId") + ", \"concertDateId\": " + dateId
                                    + ", \"seatNumber\": " + session.getInt("seatNumber") + "}")).asJson()
                            .check(status().is(201))));

    static List<Assertion> reported(String name) {
        return List.of(details(name).responseTime().percentile(99.0).lt(TARGET_P99), details(name).failedRequests().count().is(0L));
    }

    {
        List<Assertion> assertions = new ArrayList<>();
        assertions.addAll(reported(FULL));
        assertions.addAll(reported(SINCE));
        assertions.addAll(reported(HOLD));
        setUp(readersScn.injectOpen(constantUsersPerSec(READ_RATE / (1.0 + POLLS)).during(Duration.ofSeconds(DURATION))),
                holdersScn.injectOpen(constantUsersPerSec(HOLD_RATE).during(Duration.ofSeconds(DURATION))))
                .protocols(browserLike())
                .assertions(assertions);
    }
}
