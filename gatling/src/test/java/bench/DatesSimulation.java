package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 3: upcoming dates of a random concert with free-seat counts (fresh from the database). */
public class DatesSimulation extends BenchSimulation {

    static final String NAME = "GET /concerts/{id}/dates";

    ScenarioBuilder scn = scenario("GET /concerts/{id}/dates").exec(iteration(exec(
            http(name(NAME)).get(s -> "/api/v1/concerts/" + randomConcert() + "/dates")
                    .check(status().is(200), jsonPath("$.dates[0].availableSeats").exists()))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
