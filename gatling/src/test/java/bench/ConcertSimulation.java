package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 2: one random concert with its dates. */
public class ConcertSimulation extends BenchSimulation {

    static final String NAME = "GET /concerts/{id}";

    ScenarioBuilder scn = scenario("GET /concerts/{id}").exec(iteration(exec(
            http(name(NAME)).get(s -> "/api/v1/concerts/" + randomConcert())
                    .check(status().is(200), jsonPath("$.dates[0].concertDateId").exists()))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
