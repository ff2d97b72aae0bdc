package com.concertbooking.booking;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import com.concertbooking.booking.ReservationService.HoldCommand;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.support.ApiException;
import com.concertbooking.queue.QueueTestSupport;
import com.concertbooking.auth.ActivePass;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;
import reactor.core.publisher.Mono;

/** Fixtures shared by the reservation and payment tests: bulk users, passes, and direct reads of the tables. */
public abstract class BookingTestBase extends QueueTestSupport {

    @Autowired
    protected DatabaseClient db;

    @Autowired
    protected ReservationService reservations;

    @Autowired
    protected PaymentService payments;

    @Autowired
    private tools.jackson.databind.ObjectMapper json;

    /**
     * Jackson builds a type's (de)serializer on first use under a lock; when hundreds of racing requests reach
     * that first use together, event loops park and BlockHound (rightly strict) fails the request. Production
     * warms up with traffic; the tests do it here, on the test thread.
     */
    @org.junit.jupiter.api.BeforeEach
    void warmJackson() {
        json.readValue("{\"userId\":1,\"concertDateId\":1,\"seatNumber\":1}", ReservationController.HoldRequest.class);
        json.readValue("{\"reservationId\":1,\"userId\":1}", com.concertbooking.booking.PaymentController.PayRequest.class);
        json.readValue("{\"reservationIds\":[1,2],\"userId\":1}", com.concertbooking.booking.PaymentController.PayRequest.class);
        json.writeValueAsString(new Reservation(1, 1, 1, "c", 1, java.time.Instant.now(), "v", 1, 1, "R", 1, ReservationStatus.HELD, java.time.Instant.now(), null, null));
        json.writeValueAsString(new PaymentService.PaymentResponse(1, 1, List.of(1L, 2L), 1, PaymentStatus.COMPLETED, 1, java.time.Instant.now(), List.of()));
        json.writeValueAsString(Map.of("code", "X", "status", 409));
    }

    /** Like QueueTestSupport.activeTokens, but joins 16 at a time (2,000 users in a few seconds), then admits them all. */
    protected Map<Long, String> activeTokensInParallel(List<Long> users, long concertId) {
        pause(concertId);
        var client = racingClient();
        Map<Long, String> bearers = bearers(users); // minted here, off the event loops, and cached for the race
        Map<Long, String> tokens = reactor.core.publisher.Flux.fromIterable(users)
                .flatMap(u -> client.post().uri("/api/v1/queues/token").contentType(org.springframework.http.MediaType.APPLICATION_JSON)
                        .header(org.springframework.http.HttpHeaders.AUTHORIZATION, bearers.get(u))
                        .bodyValue(Map.of("concertId", concertId))
                        .retrieve().bodyToMono(String.class)
                        .map(body -> Map.entry(u, field(body, "token"))), 16) // set-up, not the race: gentle on a shared machine
                .collectMap(Map.Entry::getKey, Map.Entry::getValue).block();
        org.assertj.core.api.Assertions.assertThat(admit(concertId, users.size())).isEqualTo(users.size());
        return tokens;
    }

    /**
     * One top-level field of a small JSON body, read as text: the racing clients avoid Jackson, whose caches
     * (fresh per WebClient) take a lock on first use that BlockHound reports when many event loops meet there.
     */
    protected static String field(String json, String name) {
        var m = java.util.regex.Pattern.compile("\"" + name + "\":\\s*(\"([^\"]*)\"|[-0-9]+)").matcher(json);
        return m.find() ? (m.group(2) != null ? m.group(2) : m.group(1)) : null;
    }

    /** Lets one user have up to {@code n} seats of the concert (SPEC 4.13), for tests about other limits. */
    protected void allowTickets(long concertId, int n) {
        db.sql("UPDATE concert SET max_tickets_per_user = :n WHERE id = :id").bind("n", n).bind("id", concertId).fetch().rowsUpdated().block();
    }

    /** The pass a handler gets for an ACTIVE queue token. */
    protected static ActivePass pass(long userId, long concertId) {
        return new ActivePass(userId, concertId, "test-" + userId);
    }

    protected Reservation hold(long userId, CreatedConcert concert, int seatNumber) {
        return reservations.hold(pass(userId, concert.concertId()),
                new HoldCommand(userId, concert.firstDateId(), seatNumber, null)).block();
    }

    protected PaymentService.PayOutcome pay(long userId, long concertId, long reservationId, String key) {
        return payments.pay(pass(userId, concertId), new PaymentService.PayCommand(reservationId, userId, key)).block();
    }

    /** The API error code of a call, or "OK". */
    protected static String codeOf(Mono<?> call) {
        return call.map(v -> "OK").onErrorResume(ApiException.class, e -> Mono.just(e.code().name())).block();
    }

    /** Cancels as the owner would (for tests of other packages: the service is this package's). */
    protected Reservation cancel(long reservationId, long userId) {
        return reservations.cancel(reservationId, userId).block(java.time.Duration.ofSeconds(10));
    }

    /** One pass of the hold sweeper (disabled in tests), as its background loop would run it. */
    protected int sweepExpiredHolds() {
        return sweeper.sweep().block(java.time.Duration.ofSeconds(10));
    }

    @Autowired
    private HoldSweeper sweeper;

    protected long balance(long userId) {
        return db.sql("SELECT balance FROM users WHERE id = :id").bind("id", userId).map(r -> r.get("balance", Long.class)).one().block();
    }

    /** status, reservation_id and held_until of a seat, as stored. */
    protected Map<String, Object> seat(long seatId) {
        return db.sql("SELECT status, reservation_id, held_until FROM seat WHERE id = :id").bind("id", seatId).fetch().one().block();
    }

    protected String storedStatus(long reservationId) {
        return db.sql("SELECT status FROM reservation WHERE id = :id").bind("id", reservationId)
                .map(r -> r.get("status", String.class)).one().block();
    }

    /** Outbox event types written for a reservation, oldest first. */
    protected List<String> outboxTypes(long reservationId) {
        return db.sql("SELECT event_type FROM outbox WHERE JSON_VALUE(payload, '$.reservationId') = :id ORDER BY id")
                .bind("id", Long.toString(reservationId))
                .map(r -> r.get("event_type", String.class)).all().collectList().block();
    }

    protected Map<String, Object> payment(long reservationId) {
        return db.sql("SELECT id, status, amount FROM payment WHERE reservation_id = :id").bind("id", reservationId)
                .fetch().one().block();
    }

    protected long count(String sql, Object... binds) {
        var spec = db.sql(sql);
        for (int i = 0; i < binds.length; i++) {
            spec = spec.bind(i, binds[i]);
        }
        return spec.map(r -> ((Number) r.get(0)).longValue()).one().block();
    }
}
