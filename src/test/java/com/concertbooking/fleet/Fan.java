package com.concertbooking.fleet;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Stream;

import com.concertbooking.fleet.Http.Reply;
import tools.jackson.databind.JsonNode;

/**
 * One fan's journey through the balancer (SPEC 2): sign in, top up, join the queue, watch the stream
 * until admitted, hold a seat, pay, and for some fans cancel a hold or refund a payment; then leave.
 * Like a real client it retries what failed in transit (an instance may die under it): joining is
 * idempotent, payments carry an Idempotency-Key, and the outcome of a charge or a hold that got no
 * answer is read back before deciding. What the fan believes happened is kept for the final checks.
 */
final class Fan {

    /** What all fans share: the balancer, the concert and its dates, counters of the run. */
    record Run(Http http, String adminKey, long concertId, List<Long> dateIds, int seatsPerDate, String password,
               AtomicInteger admitted, AtomicInteger paid, AtomicInteger openStreams, AtomicInteger reconnects,
               List<String> placeLost) {}

    static final long CHARGE = 300_000;

    final int index;
    final long userId;
    final String username;
    final Run run;
    String accessToken;
    String queueToken;
    /** Charges the service confirmed (or that a read-back of the balance proved committed). */
    long charged;
    final List<Long> paidReservations = new ArrayList<>();
    final List<Long> refundedReservations = new ArrayList<>();
    final List<Long> releasedReservations = new ArrayList<>();
    final Map<Long, Long> priceOf = new HashMap<>();
    int firstPosition = -1;
    int streamsOpened;
    int streamReconnects;
    String failure;

    Fan(int index, long userId, String username, Run run) {
        this.index = index;
        this.userId = userId;
        this.username = username;
        this.run = run;
    }

    Map<String, String> auth() {
        return Map.of("Authorization", "Bearer " + accessToken);
    }

    Map<String, String> authAndPass() {
        return Map.of("Authorization", "Bearer " + accessToken, "Queue-Token", queueToken);
    }

    /** Retries a request until it gets an answer that is not a transit failure (bounded). */
    Reply retry(Supplier<Reply> call) {
        Reply r = null;
        for (int attempt = 0; attempt < 60; attempt++) {
            r = call.get();
            if (r.status() == 429 || r.status() == 503 && r.retryAfter() != null) {
                Http.pause(Http.retryPause(r, 500));
                continue;
            }
            if (!r.transientFailure()) {
                return r;
            }
            Http.pause(300);
        }
        return r;
    }

    void journey() {
        try {
            signIn();
            topUp();
            join();
            if (queueToken == null) {
                throw new IllegalStateException("no queue token");
            }
            waitUntilActive();
            run.admitted().incrementAndGet();
            book();
            leave();
        } catch (RuntimeException e) {
            failure = e.toString();
        }
    }

    /** A few fans log in by password (the dev issuer, throttled per address); the others get minted tokens. */
    void signIn() {
        Reply r = index < 12
                ? retry(() -> run.http().send("POST", "/api/v1/auth/login", Map.of("username", username, "password", run.password()), Map.of()))
                : retry(() -> run.http().send("POST", "/api/v1/admin/users/" + userId + "/access-token", null, Map.of("X-Admin-Key", run.adminKey())));
        expect(r, "sign in");
        accessToken = r.body().path("accessToken").asString();
    }

    void topUp() {
        long before = balance();
        Reply r = run.http().send("PATCH", "/api/v1/users/" + userId + "/charge", Map.of("amount", CHARGE), auth());
        if (r.ok()) {
            charged += CHARGE;
            return;
        }
        if (!r.transientFailure()) {
            throw new IllegalStateException("charge: " + r.status() + " " + r.code());
        }
        // No answer: a charge is not idempotent, so read the balance back (this fan does nothing else meanwhile;
        // a killed instance's transaction has committed or rolled back by the time its socket is gone).
        Http.pause(1500);
        long after = balance();
        if (after == before + CHARGE) {
            charged += CHARGE;
        } else if (after == before) {
            topUp();
        } else {
            throw new IllegalStateException("balance moved from " + before + " to " + after + " on one charge");
        }
    }

    long balance() {
        Reply r = retry(() -> run.http().get("/api/v1/users/" + userId + "/balance", auth()));
        expect(r, "balance");
        return r.body().path("balance").asLong();
    }

    void join() {
        Reply r = retry(() -> run.http().send("POST", "/api/v1/queues/token", Map.of("concertId", run.concertId()), auth()));
        expect(r, "join");
        queueToken = r.body().path("token").asString();
        if ("WAITING".equals(r.body().path("status").asString())) {
            firstPosition = r.body().path("position").asInt();
        }
    }

    /**
     * Watches the SSE stream (through the balancer) until {@code active}. A stream that breaks (its
     * instance died) is opened again, possibly on another instance; the place must be kept: the first
     * position after a reconnect is never behind the last one seen before.
     */
    void waitUntilActive() {
        if (firstPosition < 0) {
            return; // admitted at once
        }
        int lastPosition = firstPosition;
        boolean reconnecting = false;
        for (int attempt = 0; attempt < 100; attempt++) {
            StreamResult s = stream(lastPosition, reconnecting);
            if (s.positionSeen() > 0) {
                lastPosition = s.positionSeen();
            }
            if (s.outcome().equals("active")) {
                return;
            }
            if (s.outcome().equals("expired")) {
                throw new IllegalStateException("queue token expired while waiting");
            }
            if (s.outcome().equals("busy")) {
                Http.pause(500);
                continue;
            }
            // Broken or ended without a final event: reconnect, counting it.
            reconnecting = true;
            streamReconnects++;
            run.reconnects().incrementAndGet();
            Http.pause(200);
        }
        throw new IllegalStateException("never admitted");
    }

    record StreamResult(String outcome, int positionSeen) {}

    StreamResult stream(int lastPosition, boolean reconnecting) {
        String path = "/api/v1/queues/stream?token=" + URLEncoder.encode(queueToken, StandardCharsets.UTF_8);
        var request = run.http().request(path).header("Accept", "text/event-stream")
                .timeout(java.time.Duration.ofMinutes(3)).GET().build();
        run.http().requests.incrementAndGet();
        HttpResponse<Stream<String>> response;
        try {
            response = run.http().client.send(request, HttpResponse.BodyHandlers.ofLines());
        } catch (IOException e) {
            run.http().failed();
            return new StreamResult("broken", -1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        if (response.statusCode() == 429 || response.statusCode() >= 500) {
            response.body().close();
            if (response.statusCode() >= 500) {
                run.http().failed();
            }
            return new StreamResult(response.statusCode() == 429 ? "busy" : "broken", -1);
        }
        if (response.statusCode() == 401) {
            response.body().close();
            return new StreamResult("expired", -1);
        }
        streamsOpened++;
        run.openStreams().incrementAndGet();
        int seen = -1;
        boolean first = true;
        String event = null;
        try (Stream<String> lines = response.body()) {
            var it = lines.iterator();
            while (it.hasNext()) {
                String line = it.next();
                if (line.startsWith("event:")) {
                    event = line.substring(6).trim();
                } else if (line.startsWith("data:") && event != null) {
                    if (event.equals("active") || event.equals("expired")) {
                        return new StreamResult(event, seen);
                    }
                    if (event.equals("position")) {
                        JsonNode data = Http.JSON.readTree(line.substring(5).trim());
                        int position = data.path("position").asInt();
                        if (position > lastPosition) {
                            // The place went back: after a reconnect that is exactly the loss this check is for.
                            run.placeLost().add("fan " + index + ": position " + lastPosition + " -> " + position
                                    + (first && reconnecting ? " after a reconnect" : ""));
                        }
                        lastPosition = position;
                        seen = position;
                        first = false;
                    }
                } else if (line.isEmpty()) {
                    event = null;
                }
            }
        } catch (UncheckedIOException e) {
            run.http().failed();
        } finally {
            run.openStreams().decrementAndGet();
        }
        return new StreamResult("broken", seen);
    }

    /**
     * Holds a seat (seats are contended: fans start at overlapping seat numbers), then per fan kind:
     * pay; hold, cancel (release) and hold another, then pay; or pay and cancel (refund).
     */
    void book() {
        int dateIndex = index % run.dateIds().size();
        long dateId = run.dateIds().get(dateIndex);
        long reservation = hold(dateId, (index * 7) % run.seatsPerDate() + 1);
        if (index % 5 == 1) {
            cancel(reservation, false);
            reservation = hold(dateId, (index * 11) % run.seatsPerDate() + 1);
        }
        pay(reservation);
        if (index % 7 == 2) {
            cancel(reservation, true);
        }
    }

    long hold(long dateId, int firstSeat) {
        int seats = run.seatsPerDate();
        int retries = 0;
        for (int i = 0; i < seats * 2; i++) {
            if (retries > 60) {
                break;
            }
            int seat = (firstSeat - 1 + i) % seats + 1;
            Map<String, Object> body = Map.of("userId", userId, "concertDateId", dateId, "seatNumber", seat);
            Reply r = run.http().send("POST", "/api/v1/reservations", body, authAndPass());
            if (r.status() == 201) {
                long id = r.body().path("reservationId").asLong();
                priceOf.put(id, r.body().path("price").asLong());
                return id;
            }
            if (r.transientFailure()) {
                // No answer: the hold may have committed. Adopt it if so, else try the same seat again.
                Http.pause(1500);
                Long mine = myHeld(dateId, seat);
                if (mine != null) {
                    return mine;
                }
                retries++;
                i--;
                continue;
            }
            if (r.status() == 429) {
                Http.pause(Http.retryPause(r, 500));
                retries++;
                i--;
                continue;
            }
            if (!"SEAT_UNAVAILABLE".equals(r.code())) {
                throw new IllegalStateException("hold: " + r.status() + " " + r.code());
            }
        }
        throw new IllegalStateException("no seat left on date " + dateId);
    }

    Long myHeld(long dateId, int seatNumber) {
        Reply r = retry(() -> run.http().get("/api/v1/reservations/" + userId, auth()));
        expect(r, "list reservations");
        for (JsonNode res : r.body()) {
            if (res.path("concertDateId").asLong() == dateId && res.path("seatNumber").asInt() == seatNumber
                    && "HELD".equals(res.path("status").asString())) {
                long id = res.path("reservationId").asLong();
                priceOf.put(id, res.path("price").asLong());
                return id;
            }
        }
        return null;
    }

    /** Same Idempotency-Key on every retry: the payment happens at most once, the answer is definitive. */
    void pay(long reservation) {
        String key = UUID.randomUUID().toString();
        Map<String, String> headers = new HashMap<>(authAndPass());
        headers.put("Idempotency-Key", key);
        for (int attempt = 0; attempt < 120; attempt++) {
            Reply r = run.http().send("POST", "/api/v1/payments/pay", Map.of("reservationId", reservation, "userId", userId), headers);
            if (r.ok()) {
                paidReservations.add(reservation);
                run.paid().incrementAndGet();
                return;
            }
            if (r.transientFailure() || "IDEMPOTENCY_IN_PROGRESS".equals(r.code()) || r.status() == 429) {
                Http.pause(Http.retryPause(r, 1000));
                continue;
            }
            throw new IllegalStateException("pay: " + r.status() + " " + r.code());
        }
        throw new IllegalStateException("pay: no definitive answer");
    }

    /** A cancel with no answer is read back: the reservation is CANCELLED (done) or not (cancel again). */
    void cancel(long reservation, boolean paidBefore) {
        for (int attempt = 0; attempt < 30; attempt++) {
            Reply r = run.http().send("DELETE", "/api/v1/reservations/" + reservation + "?userId=" + userId, null, auth());
            if (r.ok() || r.status() == 409 && cancelled(reservation)) {
                (paidBefore ? refundedReservations : releasedReservations).add(reservation);
                if (paidBefore) {
                    paidReservations.remove(reservation);
                }
                return;
            }
            if (!r.transientFailure()) {
                throw new IllegalStateException("cancel: " + r.status() + " " + r.code());
            }
            Http.pause(1000);
        }
        throw new IllegalStateException("cancel: no definitive answer");
    }

    boolean cancelled(long reservation) {
        Reply r = retry(() -> run.http().get("/api/v1/reservations/" + userId, auth()));
        expect(r, "list reservations");
        for (JsonNode res : r.body()) {
            if (res.path("reservationId").asLong() == reservation) {
                return "CANCELLED".equals(res.path("status").asString());
            }
        }
        return false;
    }

    /** Leaves the queue (frees the active place); after a payment the token has usually ended already. */
    void leave() {
        retry(() -> run.http().send("DELETE", "/api/v1/queues/token", null, authAndPass()));
    }

    static void expect(Reply r, String what) {
        if (!r.ok() || r.body() == null) {
            throw new IllegalStateException(what + ": " + r.status() + " " + r.code() + " " + (r.error() == null ? "" : r.error()));
        }
    }

    static List<String> synchronizedList() {
        return Collections.synchronizedList(new ArrayList<>());
    }
}
