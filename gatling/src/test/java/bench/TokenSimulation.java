package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 7: a random signed-in fan asks for a queue token for a random hot concert (Bench.HOT) (201 new, 200 when that pair already has one). */
public class TokenSimulation extends BenchSimulation {

    static final String NAME = "POST /queues/token";

    ScenarioBuilder scn = scenario("POST /queues/token").exec(asRandomFan()).exec(iteration(exec(
            http(name(NAME)).post("/api/v1/queues/token")
                    .header("Authorization", "Bearer #{access}")
                    .body(StringBody(s -> "{\"concertId\": " + randomHotConcert() + "}")).asJson()
                    .check(status().in(200, 201), jsonPath("$.token").exists(), jsonPath("$.status").in("WAITING", "ACTIVE")))));

    @Override
    protected void prepare() {
        signInFans();
    }

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
