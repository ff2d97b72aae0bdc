package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** The ceiling: the same load against a trivial endpoint of the same server. */
public class LivenessSimulation extends BenchSimulation {

    static final String NAME = "GET /actuator/health/liveness";

    ScenarioBuilder scn = scenario("GET /actuator/health/liveness").exec(iteration(exec(
            http(name(NAME)).get("/actuator/health/liveness").check(status().is(200)))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
