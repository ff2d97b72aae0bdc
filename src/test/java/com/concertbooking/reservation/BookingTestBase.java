package com.concertbooking.reservation;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import com.concertbooking.payment.PaymentService;
import com.concertbooking.reservation.ReservationService.HoldCommand;
import com.concertbooking.reservation.ReservationService.Reservation;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.IntegrationTest;
import com.concertbooking.support.QueuePass;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;
import reactor.core.publisher.Mono;

/** Fixtures shared by the reservation and payment tests: bulk users, passes, and direct reads of the tables. */
public abstract class BookingTestBase extends IntegrationTest {

    @Autowired
    protected DatabaseClient db;

    @Autowired
    protected ReservationService reservations;

    @Autowired
    protected PaymentService payments;

    /** The pass the token guard would put on the exchange for an ACTIVE token. */
    protected static QueuePass pass(long userId, long concertId) {
        return new QueuePass(userId, concertId, "test-" + userId, QueuePass.Status.ACTIVE);
    }

    /** Many users in one INSERT (the admin API one by one would dominate the racing tests' time). */
    protected List<Long> createUsers(int count, long balance) {
        String prefix = unique("bulk");
        String values = IntStream.range(0, count).mapToObj(i -> "('" + prefix + "-" + i + "', " + balance + ")")
                .collect(Collectors.joining(","));
        db.sql("INSERT INTO users (name, balance) VALUES " + values).fetch().rowsUpdated().block();
        return db.sql("SELECT id FROM users WHERE name LIKE :p ORDER BY id").bind("p", prefix + "-%")
                .map(r -> r.get("id", Long.class)).all().collectList().block();
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
