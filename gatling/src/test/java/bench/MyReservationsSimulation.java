package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/** API 12: reservations of a random user among the first few thousand (the users earlier simulations booked with). */
public class MyReservationsSimulation extends BenchSimulation {

    static final String NAME = "GET /reservations/{userId}";

    ScenarioBuilder scn = scenario("GET /reservations/{userId}").exec(iteration(exec(
            http(name(NAME)).get(s -> "/api/v1/reservations/" + (1 + ThreadLocalRandom.current().nextInt(Math.min(USERS, intProp("reservationUsers", 5000)))))
                    .check(status().is(200), jsonPath("$").exists()))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
