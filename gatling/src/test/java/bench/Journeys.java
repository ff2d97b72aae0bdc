package bench;

import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

import io.gatling.javaapi.core.ChainBuilder;

/** Steps shared by several simulations. */
final class Journeys {

    private Journeys() {}

    /**
     * Hold #{seatNumber} of #{dateId} for #{userId} (access token #{access}) with queue token #{token}. 201, or 409 with code SEAT_UNAVAILABLE
     * (someone else has the seat: expected, counted); anything else fails the request. Saves #{holdStatus},
     * and on success #{reservationId} and #{price}.
     */
    static ChainBuilder hold(String name) {
        return exec(http(Bench.name(name)).post("/api/v1/reservations")
                .header("Authorization", "Bearer #{access}").header("Queue-Token", "#{token}")
                .body(StringBody("{\"userId\": #{userId}, \"concertDateId\": #{dateId}, \"seatNumber\": #{seatNumber}}")).asJson()
                .check(status().in(201, 409).saveAs("holdStatus"))
                .checkIf((response, session) -> response.status().code() == 409)
                .then(jsonPath("$.code").is("SEAT_UNAVAILABLE"))
                .checkIf((response, session) -> response.status().code() == 201)
                .then(jsonPath("$.reservationId").ofLong().saveAs("reservationId"), jsonPath("$.price").ofLong().saveAs("price")))
                .exec(session -> {
                    if (session.contains("holdStatus") && session.getInt("holdStatus") == 409 && !session.isFailed()) {
                        Bench.expected(name + " 409 SEAT_UNAVAILABLE");
                    }
                    return session;
                });
    }
}
