package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 12: a random signed-in fan (of the first few thousand, the users earlier simulations booked with) lists their reservations. */
public class MyReservationsSimulation extends BenchSimulation {

    static final String NAME = "GET /reservations/{userId}";

    ScenarioBuilder scn = scenario("GET /reservations/{userId}").exec(asRandomFan()).exec(iteration(exec(
            http(name(NAME)).get("/api/v1/reservations/#{userId}").header("Authorization", "Bearer #{access}")
                    .check(status().is(200), jsonPath("$").exists()))));

    @Override
    protected void prepare() {
        signInFans(); // fansPool=5000 covers the fans the hold, pay and cancel simulations booked with
    }

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
