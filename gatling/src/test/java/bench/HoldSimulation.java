package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * API 11: hold a random seat of a random date of the pass's concert. A seat someone else holds already
 * answers 409 SEAT_UNAVAILABLE: an expected outcome, accepted by the check (only with that code) and
 * counted separately (BENCH-EXPECTED line), never a failure. Set-up as in {@link SeatsSimulation}.
 */
public class HoldSimulation extends BenchSimulation {

    static final String NAME = "POST /reservations";
    static volatile List<Prep.Pass> passes = List.of();

    @Override
    protected void prepare() {
        passes = Prep.activePasses(Prep.pairs(intProp("passes", 1000), intProp("firstUser", 1001), HOT + 1, 2L * HOT),
                Duration.ofSeconds(intProp("admitWaitSecs", 120)));
        Prep.requireNonEmpty(passes, "ACTIVE passes");
    }

    @Override
    protected void finish() {
        printExpected();
    }

    ScenarioBuilder scn = scenario(NAME)
            .exec(session -> {
                Prep.Pass p = passes.get(ThreadLocalRandom.current().nextInt(passes.size()));
                return session.set("token", p.token()).set("access", p.access()).set("userId", p.userId())
                        .set("dateId", randomDateOf(p.concertId())).set("seatNumber", randomSeatNumber());
            })
            .exec(iteration(exec(Journeys.hold(NAME))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
