package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;

import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * API 14: pay for a held reservation (with an Idempotency-Key, as a real client sends). Payment ends the
 * fan's pass, so every payment needs its own ACTIVE pass and hold: the set-up (not measured) makes as many
 * as the profile will use (expected iterations x 1.15) through the API: token, admission, hold.
 */
public class PaySimulation extends BenchSimulation {

    static final String NAME = "POST /payments/pay";
    static final Queue<Prep.Hold> HOLDS = new ConcurrentLinkedQueue<>();

    @Override
    protected void prepare() {
        int n = intProp("holds", (int) (expectedIterations(0.02) * 1.15));
        List<Prep.Pass> passes = Prep.activePasses(Prep.pairs(n, intProp("firstUser", 2001), 2L * HOT + 1, 4L * HOT),
                Duration.ofSeconds(intProp("admitWaitSecs", 180)));
        Prep.requireNonEmpty(passes, "ACTIVE passes");
        HOLDS.addAll(Prep.holds(passes, passes.size()));
        Prep.requireNonEmpty(List.copyOf(HOLDS), "holds");
    }

    @Override
    protected void finish() {
        System.out.println("BENCH-INFO holds left unused: " + HOLDS.size());
    }

    ScenarioBuilder scn = scenario(NAME)
            .exec(session -> {
                Prep.Hold h = HOLDS.poll();
                return h == null ? session.markAsFailed()
                        : session.set("token", h.pass().token()).set("access", h.pass().access()).set("userId", h.pass().userId())
                                .set("reservationId", h.reservationId()).set("idem", UUID.randomUUID().toString());
            })
            .exec(iteration(exec(http(name(NAME)).post("/api/v1/payments/pay")
                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                    .header("Idempotency-Key", "#{idem}")
                    .body(StringBody("{\"reservationId\": #{reservationId}, \"userId\": #{userId}}")).asJson()
                    .check(status().is(200), jsonPath("$.status").is("COMPLETED")))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
