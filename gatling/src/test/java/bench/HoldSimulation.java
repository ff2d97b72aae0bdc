package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * API 11: hold a random seat of a random date of the pass's concert. A seat someone else holds already
 * answers 409 SEAT_UNAVAILABLE: an expected outcome, accepted by the check (only with that code) and
 * counted separately (BENCH-EXPECTED line), never a failure. Set-up as in {@link SeatsSimulation}.
 * <p>A fan may have at most {@value #PER_PASS} seats of a concert (SPEC 4.13), so each pass makes at most that many
 * holds, in turn, and there are enough passes for the profile's holds (passes=N overrides): a run measures holds,
 * not purchase-limit refusals.
 */
public class HoldSimulation extends BenchSimulation {

    static final String NAME = "POST /reservations";
    static final int PER_PASS = 4;
    static volatile List<Prep.Pass> passes = List.of();
    static final AtomicLong HOLDS = new AtomicLong();

    @Override
    protected void prepare() {
        int needed = (int) Math.ceil(expectedIterations(0.05) * 1.1 / PER_PASS);
        passes = Prep.activePasses(Prep.pairs(intProp("passes", Math.max(1000, needed)), intProp("firstUser", 1001), HOT + 1, 2L * HOT),
                Duration.ofSeconds(intProp("admitWaitSecs", 120)));
        Prep.requireNonEmpty(passes, "ACTIVE passes");
    }

    @Override
    protected void finish() {
        printExpected();
    }

    ScenarioBuilder scn = scenario(NAME)
            .exec(session -> {
                Prep.Pass p = passes.get((int) (HOLDS.getAndIncrement() / PER_PASS % passes.size()));
                return session.set("token", p.token()).set("access", p.access()).set("userId", p.userId())
                        .set("dateId", randomDateOf(p.concertId())).set("seatNumber", randomSeatNumber());
            })
            .exec(iteration(exec(Journeys.hold(NAME))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
