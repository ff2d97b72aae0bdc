package com.concertbooking.booking;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.concertbooking.booking.PaymentService.PayCommand;
import com.concertbooking.booking.PaymentService.PayOutcome;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.support.ApiException;
import com.concertbooking.auth.ReplayPass;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;

/** Payments, idempotency, refunds and their races at the service level, against the real database. */
class PaymentServiceTest extends BookingTestBase {

    private static final long PRICE = 100_000; // seats 11+ of createConcert(n > 10), and all seats of createConcert(n <= 10)

    @Test
    void payingCompletesTheReservationInOneStep() {
        long user = createUser(250_000);
        CreatedConcert concert = createConcert(5);
        Reservation r = hold(user, concert, 3);

        PayOutcome outcome = pay(user, concert.concertId(), r.reservationId(), null);

        assertThat(outcome.replayed()).isFalse();
        var p = outcome.response();
        assertThat(p.status()).isEqualTo(PaymentStatus.COMPLETED);
        assertThat(p.amount()).isEqualTo(PRICE);
        assertThat(p.balance()).isEqualTo(150_000);
        assertThat(p.reservationId()).isEqualTo(r.reservationId());
        assertThat(balance(user)).isEqualTo(150_000);
        assertThat(storedStatus(r.reservationId())).isEqualTo("PAID");
        assertThat(seat(r.seatId()).get("status")).isEqualTo("SOLD");
        assertThat(payment(r.reservationId())).containsEntry("status", "COMPLETED");
        assertThat(((Number) payment(r.reservationId()).get("id")).longValue()).isEqualTo(p.paymentId());
        assertThat(outboxTypes(r.reservationId())).containsExactly("payment-completed");
        String payload = db.sql("SELECT payload FROM outbox WHERE JSON_VALUE(payload, '$.reservationId') = :id").bind("id", "" + r.reservationId())
                .map(row -> row.get("payload", String.class)).one().block();
        assertThat(payload).contains("\"userId\":" + user, "\"paymentId\":" + p.paymentId(), "\"concertDateId\":" + concert.firstDateId(),
                "\"amount\":" + PRICE, "\"seatNumber\":3");

        Reservation listed = reservations.list(user).block().get(0);
        assertThat(listed.status()).isEqualTo(ReservationStatus.PAID);
        assertThat(listed.paidAt()).isEqualTo(p.paidAt());

        // Without a key, paying again is refused and debits nothing.
        assertThat(codeOf(payments.pay(pass(user, concert.concertId()), new PayCommand(r.reservationId(), user, null))))
                .isEqualTo("RESERVATION_NOT_PAYABLE");
        assertThat(balance(user)).isEqualTo(150_000);
        assertThat(outboxTypes(r.reservationId())).hasSize(1);
    }

    @Test
    void payChecksOwnerTokenAndConcert() {
        long user = createUser(500_000);
        long other = createUser(500_000);
        CreatedConcert concert = createConcert(5);
        CreatedConcert otherConcert = createConcert(5);
        Reservation r = hold(user, concert, 1);

        assertThat(codeOf(payments.pay(pass(other, concert.concertId()), new PayCommand(r.reservationId(), other, null))))
                .as("someone else's reservation").isEqualTo("FORBIDDEN");
        assertThat(codeOf(payments.pay(pass(user, otherConcert.concertId()), new PayCommand(r.reservationId(), user, null))))
                .as("a token of another concert").isEqualTo("FORBIDDEN");
        assertThat(codeOf(payments.pay(pass(user, concert.concertId()), new PayCommand(Long.MAX_VALUE, user, null)))).isEqualTo("RESERVATION_NOT_FOUND");
        assertThat(codeOf(payments.pay(new ReplayPass(user, concert.concertId()),
                new PayCommand(r.reservationId(), user, null)))).isEqualTo("TOKEN_EXPIRED");
        assertThat(balance(user)).isEqualTo(500_000);
        assertThat(storedStatus(r.reservationId())).isEqualTo("HELD");
    }

    @Test
    void insufficientBalanceChangesNothingAndTheKeyCanBeRetriedAfterATopUp() {
        long user = createUser(99_999);
        CreatedConcert concert = createConcert(5);
        Reservation r = hold(user, concert, 2);

        assertThat(codeOf(payments.pay(pass(user, concert.concertId()), new PayCommand(r.reservationId(), user, "k-topup"))))
                .isEqualTo("INSUFFICIENT_BALANCE");
        assertThat(balance(user)).isEqualTo(99_999);
        assertThat(storedStatus(r.reservationId())).isEqualTo("HELD");
        assertThat(seat(r.seatId()).get("status")).isEqualTo("HELD");
        assertThat(payment(r.reservationId())).isNull();
        assertThat(outboxTypes(r.reservationId())).isEmpty();

        asUser(user).patch().uri("/api/v1/users/{id}/charge", user).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("amount", 1)).exchange().expectStatus().isOk();
        PayOutcome paid = pay(user, concert.concertId(), r.reservationId(), "k-topup");
        assertThat(paid.replayed()).isFalse();
        assertThat(paid.response().balance()).isZero();
        assertThat(balance(user)).isZero();
    }

    @Test
    void idempotencyKeyReplaysTheStoredResponse() {
        long user = createUser(1_000_000);
        CreatedConcert concert = createConcert(5);
        Reservation r = hold(user, concert, 4);
        Reservation r2 = hold(user, concert, 5);

        PayOutcome first = pay(user, concert.concertId(), r.reservationId(), "key-1");
        PayOutcome again = pay(user, concert.concertId(), r.reservationId(), "key-1");
        assertThat(again.replayed()).isTrue();
        assertThat(again.response()).isEqualTo(first.response());

        // After the payment ended the token, a genuine but ENDED pass still gets the stored response ...
        ReplayPass ended = new ReplayPass(user, concert.concertId());
        PayOutcome afterEnd = payments.pay(ended, new PayCommand(r.reservationId(), user, "key-1")).block();
        assertThat(afterEnd.replayed()).isTrue();
        assertThat(afterEnd.response()).isEqualTo(first.response());
        // ... but nothing else.
        assertThat(codeOf(payments.pay(ended, new PayCommand(r.reservationId(), user, "key-unknown")))).isEqualTo("TOKEN_EXPIRED");
        assertThat(codeOf(payments.pay(ended, new PayCommand(r2.reservationId(), user, "key-1")))).isEqualTo("TOKEN_EXPIRED");

        // The same key for another request is refused; that request is not executed.
        assertThat(codeOf(payments.pay(pass(user, concert.concertId()), new PayCommand(r2.reservationId(), user, "key-1"))))
                .isEqualTo("IDEMPOTENCY_KEY_REUSED");
        assertThat(storedStatus(r2.reservationId())).isEqualTo("HELD");
        assertThat(balance(user)).isEqualTo(1_000_000 - PRICE);
        assertThat(count("SELECT COUNT(*) FROM payment WHERE user_id = ?", user)).isEqualTo(1);
        assertThat(outboxTypes(r.reservationId())).containsExactly("payment-completed");
        // A key is per user: another user may use the same string.
        long other = createUser(PRICE);
        Reservation r3 = hold(other, concert, 1);
        assertThat(pay(other, concert.concertId(), r3.reservationId(), "key-1").replayed()).isFalse();
    }

    @Test
    void aKeyStillInFlightIsReportedAsInProgress() {
        long user = createUser(PRICE);
        CreatedConcert concert = createConcert(5);
        Reservation r = hold(user, concert, 1);
        String hash = PaymentService.requestHash(new PayCommand(r.reservationId(), user, "busy"));
        LocalDateTime now = LocalDateTime.now(ZoneOffset.UTC);
        db.sql("INSERT INTO idempotency_key (user_id, idem_key, request_hash, status, created_at, expires_at) "
                        + "VALUES (:u, 'busy', :h, 'IN_PROGRESS', :now, :exp)")
                .bind("u", user).bind("h", hash).bind("now", now).bind("exp", now.plusHours(24)).fetch().rowsUpdated().block();

        assertThat(codeOf(payments.pay(pass(user, concert.concertId()), new PayCommand(r.reservationId(), user, "busy"))))
                .isEqualTo("IDEMPOTENCY_IN_PROGRESS");
        assertThat(balance(user)).isEqualTo(PRICE);

        // A claim abandoned long ago (its process died before the transaction) may be taken over.
        db.sql("UPDATE idempotency_key SET created_at = :old WHERE user_id = :u AND idem_key = 'busy'")
                .bind("old", now.minusMinutes(5)).bind("u", user).fetch().rowsUpdated().block();
        assertThat(pay(user, concert.concertId(), r.reservationId(), "busy").replayed()).isFalse();
        assertThat(balance(user)).isZero();
    }

    /** Keys live 24 h: an expired record no longer binds the key (it may be reused), and the sweeper purges such records. */
    @Test
    void expiredKeysAreReusableAndPurged() {
        long user = createUser(PRICE);
        CreatedConcert concert = createConcert(5);
        Reservation r = hold(user, concert, 1);
        LocalDateTime longAgo = LocalDateTime.now(ZoneOffset.UTC).minusHours(25);
        db.sql("INSERT INTO idempotency_key (user_id, idem_key, request_hash, status, response_status, response_body, created_at, expires_at) "
                        + "VALUES (:u, 'old', 'another-request', 'COMPLETED', 200, '{}', :created, :expires)")
                .bind("u", user).bind("created", longAgo).bind("expires", longAgo.plusHours(24)).fetch().rowsUpdated().block();
        db.sql("INSERT INTO idempotency_key (user_id, idem_key, request_hash, status, created_at, expires_at) "
                        + "VALUES (:u, 'stale', 'x', 'COMPLETED', :created, :expires)")
                .bind("u", user).bind("created", longAgo).bind("expires", longAgo.plusHours(24)).fetch().rowsUpdated().block();

        PayOutcome outcome = pay(user, concert.concertId(), r.reservationId(), "old");
        assertThat(outcome.replayed()).as("the expired record is not replayed").isFalse();
        assertThat(balance(user)).isZero();

        while (reservations.purgeIdempotencyKeys().block() > 0) {
            // bounded batches until nothing is due
        }
        assertThat(count("SELECT COUNT(*) FROM idempotency_key WHERE user_id = ? AND idem_key = 'stale'", user)).isZero();
        assertThat(count("SELECT COUNT(*) FROM idempotency_key WHERE user_id = ? AND idem_key = 'old' AND status = 'COMPLETED'", user))
                .as("the fresh record of the new payment stays").isEqualTo(1);
    }

    /** Many retries with one key at once: one payment, one debit; the rest replay or are told it is in progress. */
    @Test
    void concurrentRetriesWithOneKeyPayOnce() {
        long user = createUser(PRICE);
        CreatedConcert concert = createConcert(5);
        Reservation r = hold(user, concert, 1);
        List<String> outcomes = Flux.range(0, 20)
                .flatMap(i -> payments.pay(pass(user, concert.concertId()), new PayCommand(r.reservationId(), user, "same"))
                        .map(o -> o.replayed() ? "REPLAYED" : "PAID")
                        .onErrorResume(ApiException.class, e -> Mono.just(e.code().name())), 20)
                .collectList().block();
        assertThat(outcomes.stream().filter("PAID"::equals).count()).isEqualTo(1);
        assertThat(outcomes).allMatch(o -> List.of("PAID", "REPLAYED", "IDEMPOTENCY_IN_PROGRESS").contains(o));
        assertThat(balance(user)).isZero();
        assertThat(count("SELECT COUNT(*) FROM payment WHERE reservation_id = ?", r.reservationId())).isEqualTo(1);
        assertThat(outboxTypes(r.reservationId())).containsExactly("payment-completed");
    }

    /** Two payments of one reservation at the same moment (no key): one succeeds, the balance is debited once. */
    @Test
    void concurrentPaymentsOfOneReservationDebitOnce() {
        for (int round = 0; round < 10; round++) {
            long user = createUser(3 * PRICE);
            CreatedConcert concert = createConcert(5);
            Reservation r = hold(user, concert, 1);
            List<String> outcomes = Flux.range(0, 2)
                    .flatMap(i -> payments.pay(pass(user, concert.concertId()), new PayCommand(r.reservationId(), user, null))
                            .map(o -> "PAID").onErrorResume(ApiException.class, e -> Mono.just(e.code().name())), 2)
                    .collectList().block();
            assertThat(outcomes).containsExactlyInAnyOrder("PAID", "RESERVATION_NOT_PAYABLE");
            assertThat(balance(user)).isEqualTo(2 * PRICE);
            assertThat(outboxTypes(r.reservationId())).containsExactly("payment-completed");
        }
    }

    @Test
    void cancellingAPaidReservationRefundsIt() {
        long user = createUser(PRICE);
        CreatedConcert concert = createConcert(5);
        Reservation r = hold(user, concert, 5);
        long paymentId = pay(user, concert.concertId(), r.reservationId(), null).response().paymentId();
        assertThat(balance(user)).isZero();

        Reservation cancelled = reservations.cancel(r.reservationId(), user).block();
        assertThat(cancelled.status()).isEqualTo(ReservationStatus.CANCELLED);
        assertThat(cancelled.refunded()).isEqualTo(PRICE);
        assertThat(balance(user)).isEqualTo(PRICE);
        assertThat(payment(r.reservationId())).containsEntry("status", "REFUNDED");
        assertThat(seat(r.seatId())).containsEntry("status", "AVAILABLE").containsEntry("reservation_id", null);
        assertThat(outboxTypes(r.reservationId())).containsExactly("payment-completed", "payment-refunded");
        String refundPayload = db.sql("SELECT payload FROM outbox WHERE event_type = 'payment-refunded' AND JSON_VALUE(payload, '$.reservationId') = :id")
                .bind("id", "" + r.reservationId()).map(row -> row.get("payload", String.class)).one().block();
        assertThat(refundPayload).contains("\"paymentId\":" + paymentId, "\"userId\":" + user);

        assertThat(codeOf(reservations.cancel(r.reservationId(), user))).isEqualTo("RESERVATION_NOT_CANCELLABLE");
        assertThat(balance(user)).isEqualTo(PRICE);
        assertThat(outboxTypes(r.reservationId())).hasSize(2);
    }

    @Test
    void noCancellationOnceTheShowHasStarted() {
        long user = createUser(2 * PRICE);
        CreatedConcert concert = createConcert(5);
        Reservation paid = hold(user, concert, 1);
        Reservation held = hold(user, concert, 2);
        pay(user, concert.concertId(), paid.reservationId(), null);
        db.sql("UPDATE concert_date SET starts_at = :past WHERE id = :id")
                .bind("past", LocalDateTime.now(ZoneOffset.UTC).minusMinutes(1)).bind("id", concert.firstDateId())
                .fetch().rowsUpdated().block();

        assertThat(codeOf(reservations.cancel(paid.reservationId(), user))).isEqualTo("RESERVATION_NOT_CANCELLABLE");
        assertThat(codeOf(reservations.cancel(held.reservationId(), user))).isEqualTo("RESERVATION_NOT_CANCELLABLE");
        assertThat(balance(user)).isEqualTo(PRICE);
        assertThat(storedStatus(paid.reservationId())).isEqualTo("PAID");
        assertThat(outboxTypes(paid.reservationId())).containsExactly("payment-completed");
        assertThat(outboxTypes(held.reservationId())).isEmpty();
    }

    /** A payment racing a cancel: either paid then refunded, or cancelled and never debited; never half of each. */
    @Test
    void paymentRacingCancelLeavesAConsistentState() {
        CreatedConcert concert = createConcert(40);
        List<Long> users = createUsers(40, PRICE * 2);
        List<Reservation> held = new ArrayList<>();
        for (int i = 0; i < users.size(); i++) {
            held.add(hold(users.get(i), concert, i + 1));
        }
        // One pair at a time so that neither side queues for a pool connection behind the others.
        Flux.fromIterable(held)
                .concatMap(r -> Flux.merge(
                        payments.pay(pass(r.userId(), concert.concertId()), new PayCommand(r.reservationId(), r.userId(), null))
                                .map(o -> "PAID").onErrorResume(ApiException.class, e -> Mono.just(e.code().name())),
                        // the payment reads the reservation before its transaction: give it a head start of 0-3 ms
                        Mono.delay(java.time.Duration.ofMillis(r.seatNumber() % 4)).then(reservations.cancel(r.reservationId(), r.userId()))
                                .map(c -> "CANCELLED").onErrorResume(ApiException.class, e -> Mono.just(e.code().name()))))
                .collectList().block()
                .stream().collect(java.util.stream.Collectors.groupingBy(o -> o, java.util.stream.Collectors.counting()))
                .forEach((o, n) -> System.out.println("pay-vs-cancel outcome " + o + ": " + n));

        int paidThenRefunded = 0;
        for (Reservation r : held) {
            assertThat(storedStatus(r.reservationId())).isEqualTo("CANCELLED");
            assertThat(seat(r.seatId())).containsEntry("status", "AVAILABLE");
            assertThat(balance(r.userId())).as("refunded or never debited").isEqualTo(PRICE * 2);
            Map<String, Object> payment = payment(r.reservationId());
            List<String> events = outboxTypes(r.reservationId());
            if (payment == null) {
                assertThat(events).containsExactly("reservation-cancelled");
            } else {
                paidThenRefunded++;
                assertThat(payment).containsEntry("status", "REFUNDED");
                assertThat(events).containsExactly("payment-completed", "payment-refunded");
            }
        }
        System.out.println("pay-vs-cancel: " + paidThenRefunded + " of " + held.size() + " were paid first");
    }

    /** Top-ups racing payments: the balance never goes negative and no top-up or debit is lost. */
    @Test
    void chargesRacingPaymentsNeverGoNegativeNorLoseAnUpdate() {
        long user = createUser(0);
        CreatedConcert concert = createConcert(30, 30, 31, 32, 33, 34);
        List<Reservation> held = new ArrayList<>();
        for (long date : concert.dateIds()) { // 20 seats at PRICE: 4 per date, the hold limit (SPEC 4.10)
            for (int i = 11; i <= 14; i++) {
                held.add(reservations.hold(pass(user, concert.concertId()),
                        new com.concertbooking.booking.ReservationService.HoldCommand(user, date, i, null)).block());
            }
        }
        int charges = 200;
        long charge = PRICE / 20; // 200 charges fund 10 of the 20 payments
        var client = racingClient();
        String bearer = bearerFor(user);
        Flux<String> topUps = Flux.range(0, charges).flatMap(i -> client.patch().uri("/api/v1/users/{id}/charge", user)
                .header(org.springframework.http.HttpHeaders.AUTHORIZATION, bearer)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("amount", charge))
                .exchangeToMono(resp -> Mono.just(resp.statusCode().is2xxSuccessful() ? "CHARGED" : "CHARGE_FAILED")), charges);
        Flux<String> pays = Flux.fromIterable(held).flatMap(r -> payments.pay(pass(user, concert.concertId()),
                        new PayCommand(r.reservationId(), user, null))
                .map(o -> "PAID").onErrorResume(ApiException.class, e -> Mono.just(e.code().name())));
        List<String> outcomes = Flux.merge(topUps, pays).collectList().block();

        assertThat(outcomes.stream().filter("CHARGED"::equals).count()).isEqualTo(charges);
        long paid = outcomes.stream().filter("PAID"::equals).count();
        assertThat(outcomes).allMatch(o -> List.of("CHARGED", "PAID", "INSUFFICIENT_BALANCE").contains(o));
        assertThat(count("SELECT COUNT(*) FROM payment WHERE user_id = ?", user)).isEqualTo(paid);
        assertThat(balance(user)).isEqualTo(charges * charge - paid * PRICE).isGreaterThanOrEqualTo(0);
        // Then pay the rest now that all the money is in: exactly 10 payments in total are funded.
        for (Reservation r : held) {
            if (storedStatus(r.reservationId()).equals("HELD")) {
                codeOf(payments.pay(pass(user, concert.concertId()), new PayCommand(r.reservationId(), user, null)));
            }
        }
        assertThat(count("SELECT COUNT(*) FROM payment WHERE user_id = ?", user)).isEqualTo(10);
        assertThat(balance(user)).isZero();
    }
}
