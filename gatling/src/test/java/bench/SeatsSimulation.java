package bench;

import static bench.Bench.*;
import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import io.gatling.javaapi.core.ScenarioBuilder;

/**
 * API 4: the seat map (free seats) of a random date, with an ACTIVE token for that date's concert.
 * Set-up (not measured): {@code passes} (default 1000) ACTIVE passes for distinct users on random concerts,
 * obtained through the queue API like a fan would (token, then the service's admission).
 */
public class SeatsSimulation extends BenchSimulation {

    static final String NAME = "GET /concerts/dates/{id}/seats";
    static volatile List<Prep.Pass> passes = List.of();

    @Override
    protected void prepare() {
        passes = Prep.activePasses(Prep.pairs(intProp("passes", 1000), intProp("firstUser", 1), 1, HOT),
                Duration.ofSeconds(intProp("admitWaitSecs", 120)));
        Prep.requireNonEmpty(passes, "ACTIVE passes");
    }

    ScenarioBuilder scn = scenario(NAME)
            .exec(session -> {
                Prep.Pass p = passes.get(ThreadLocalRandom.current().nextInt(passes.size()));
                return session.set("token", p.token()).set("access", p.access()).set("dateId", randomDateOf(p.concertId()));
            })
            .exec(iteration(exec(http(name(NAME)).get("/api/v1/concerts/dates/#{dateId}/seats")
                    .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                    .check(status().is(200), jsonPath("$.concertDateId").exists()))));

    {
        setUp(load(scn)).protocols(protocol()).assertions(standardAssertions(NAME));
    }
}
