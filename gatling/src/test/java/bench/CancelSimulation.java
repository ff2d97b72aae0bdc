package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * API 13: cancel a HELD reservation (releases the seat). Set-up (not measured): {@code passes} ACTIVE passes
 * and as many holds as the profile will cancel (expected iterations x 1.15), made through the API.
 */
public class CancelSimulation extends BenchSimulation {

    static final String NAME = "DELETE /reservations/{id}";
    static final Queue<Prep.Hold> HOLDS = new ConcurrentLinkedQueue<>();

    @Override
    protected void prepare() {
        int n = intProp("holds", (int) (expectedIterations(0.02) * 1.15));
        List<Prep.Pass> passes = Prep.activePasses(Prep.pairs(intProp("passes", 1000), intProp("firstUser", 4001), 4L * HOT + 1, 5L * HOT),
                Duration.ofSeconds(intProp("admitWaitSecs", 120)));
        Prep.requireNonEmpty(passes, "ACTIVE passes");
        HOLDS.addAll(Prep.holds(passes, n));
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
                        : session.set("userId", h.pass().userId()).set("access", h.pass().access()).set("reservationId", h.reservationId());
            })
            .exec(iteration(exec(http(name(NAME)).delete("/api/v1/reservations/#{reservationId}?userId=#{userId}")
                    .header("Authorization", "Bearer #{access}")
                    .check(status().is(200), jsonPath("$.status").is("CANCELLED")))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
