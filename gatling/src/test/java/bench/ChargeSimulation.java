package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 6: a random fan of the signed-in pool tops up 1,000 won. */
public class ChargeSimulation extends BenchSimulation {

    static final String NAME = "PATCH /users/{id}/charge";

    ScenarioBuilder scn = scenario("PATCH /users/{id}/charge").exec(asRandomFan()).exec(iteration(exec(
            http(name(NAME)).patch("/api/v1/users/#{userId}/charge").header("Authorization", "Bearer #{access}")
                    .body(StringBody("{\"amount\": 1000}")).asJson()
                    .check(status().is(200), jsonPath("$.balance").exists()))));

    @Override
    protected void prepare() {
        signInFans();
    }

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
