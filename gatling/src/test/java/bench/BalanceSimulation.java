package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 5: balance of a random user. */
public class BalanceSimulation extends BenchSimulation {

    static final String NAME = "GET /users/{id}/balance";

    ScenarioBuilder scn = scenario("GET /users/{id}/balance").exec(iteration(exec(
            http(name(NAME)).get(s -> "/api/v1/users/" + randomUser() + "/balance")
                    .check(status().is(200), jsonPath("$.balance").exists()))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
