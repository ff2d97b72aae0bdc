package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 1: a random page of 20 concerts. */
public class ConcertsSimulation extends BenchSimulation {

    static final String NAME = "GET /concerts";

    ScenarioBuilder scn = scenario("GET /concerts").exec(iteration(exec(
            http(name(NAME)).get(s -> "/api/v1/concerts?page=" + ThreadLocalRandom.current().nextInt(Math.max(1, CONCERTS / 20)) + "&size=20")
                    .check(status().is(200), jsonPath("$.content[0].concertId").exists()))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
