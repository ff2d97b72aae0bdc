package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 5: balance of a random fan of the signed-in pool (Bench.FANS_POOL), with that fan's access token. */
public class BalanceSimulation extends BenchSimulation {

    static final String NAME = "GET /users/{id}/balance";

    ScenarioBuilder scn = scenario("GET /users/{id}/balance").exec(asRandomFan()).exec(iteration(exec(
            http(name(NAME)).get("/api/v1/users/#{userId}/balance").header("Authorization", "Bearer #{access}")
                    .check(status().is(200), jsonPath("$.balance").exists()))));

    @Override
    protected void prepare() {
        signInFans();
    }

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
