package com.concertbooking.queue;

import com.concertbooking.auth.QueuePass;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.LongStream;

import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;

class QueueApiTest extends QueueTestSupport {

    @Test
    void issuingIsIdempotentSamePlaceSameEntrySameToken() {
        long concert = newConcert();
        pause(concert);
        long first = freshUserId();
        long second = freshUserId();
        var issued = asUser(first).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concert)).exchange()
                .expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        assertThat(issued.get("status")).isEqualTo("WAITING");
        assertThat(num(issued.get("position"))).isEqualTo(1);
        assertThat(num(issued.get("userId"))).isEqualTo(first);
        assertThat(num(issued.get("concertId"))).isEqualTo(concert);
        assertThat(issued.containsKey("activeUntil")).isFalse();
        assertThat(num(join(second, concert).get("position"))).isEqualTo(2);

        // Asking again (naming oneself is allowed) reports the same token and place.
        var again = asUser(first).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", first, "concertId", concert)).exchange()
                .expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        assertThat(again.get("token")).isEqualTo(issued.get("token"));
        assertThat(num(again.get("position"))).isEqualTo(1);

        // Presenting the token reports it (200).
        withQueueToken((String) issued.get("token")).post().uri("/api/v1/queues/token")
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("concertId", concert)).exchange()
                .expectStatus().isOk().expectBody().jsonPath("$.position").isEqualTo(1);
    }

    /** The attack: asking for a victim's token returned the victim's own live token. */
    @Test
    void nobodyObtainsOrUsesAnotherUsersQueueToken() {
        long concert = newConcert();
        pause(concert);
        long victim = freshUserId();
        long attacker = freshUserId();
        String victimToken = token(victim, concert);

        // Naming the victim in the body is refused, and without an access token nothing is issued.
        asUser(attacker).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", victim, "concertId", concert)).exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        web.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("userId", victim, "concertId", concert)).exchange()
                .expectStatus().isUnauthorized().expectHeader().valueEquals(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
                .expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");

        // A stolen queue token is worthless with the attacker's own access token: status, leave, report.
        var attackerWithStolen = asUser(attacker).mutate().defaultHeader(QueuePass.HEADER, victimToken).build();
        attackerWithStolen.get().uri("/api/v1/queues/status").exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        attackerWithStolen.delete().uri("/api/v1/queues/token").exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        attackerWithStolen.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concert)).exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        // ... and alone, as the old Authorization header, it is no access token at all.
        web.get().uri("/api/v1/queues/status").header(HttpHeaders.AUTHORIZATION, "Bearer " + victimToken).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");

        // The victim still holds place 1.
        assertThat(num(statusBody(victimToken).get("position"))).isEqualTo(1);
        assertThat(num(queueView(concert).get("waiting"))).isEqualTo(1);
    }

    /** The attack: user ids nobody owns took every ACTIVE slot while a real fan waited. */
    @Test
    void onlyExistingUsersJoin() {
        long concert = newConcert();
        pause(concert);
        long ghost = 900_000_000_000L + java.util.concurrent.ThreadLocalRandom.current().nextLong(1_000_000);
        asUser(ghost).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concert)).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("USER_NOT_FOUND");
        assertThat(num(queueView(concert).get("waiting"))).isZero();
    }

    @Test
    void badRequestsAndUnknownConcerts() {
        long user = freshUserId();
        asUser(user).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", Long.MAX_VALUE)).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("CONCERT_NOT_FOUND");
        for (String body : new String[] {"{}", "{\"userId\":" + user + "}", "{\"userId\":-1,\"concertId\":1}",
                "{\"userId\":\"x\",\"concertId\":1}", "{", "{\"concertId\":1,\"concertId\":2}", "{\"concertId\":1} x"}) {
            asUser(user).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                    .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        asUser(user).get().uri("/api/v1/queues/status").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_MISSING");
        asUser(user).delete().uri("/api/v1/queues/token").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_MISSING");
        web.get().uri("/api/v1/queues/status").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
        asAdmin().get().uri("/api/v1/admin/queues/{id}", Long.MAX_VALUE).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.code").isEqualTo("CONCERT_NOT_FOUND");
        web.get().uri("/api/v1/admin/queues/{id}", newConcert()).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("ADMIN_KEY_INVALID");
        asAdmin().put().uri("/api/v1/admin/queues/{id}/policy", newConcert())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("admitPerTick", -1, "maxActive", 5)).exchange()
                .expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
    }

    /** SPEC 4.8 and the Must-show: 1,000 simultaneous joins take exactly the places 1..1000. */
    @Test
    void thousandConcurrentJoinsTakePlacesOneToThousandAndReaskingNeverMovesBack() {
        long concert = newConcert();
        pause(concert);
        int n = 1000;
        List<Long> users = freshUsers(n);
        List<Map<?, ?>> joined = joinAll(concert, users, n);
        assertThat(joined).hasSize(n);
        assertThat(joined.stream().map(m -> num(m.get("position"))).sorted().toList())
                .isEqualTo(LongStream.rangeClosed(1, n).boxed().toList());
        Set<Object> tokens = new HashSet<>();
        joined.forEach(m -> tokens.add(m.get("token")));
        assertThat(tokens).hasSize(n);
        Map<Long, Long> positionOf = new java.util.HashMap<>();
        joined.forEach(m -> positionOf.put(num(m.get("userId")), num(m.get("position"))));
        assertThat(num(queueView(concert).get("waiting"))).isEqualTo(n);

        // Admit the first 100, then everyone asks again at once: same entry, place moved up by exactly 100.
        assertThat(admit(concert, 100)).isEqualTo(100);
        List<Map<?, ?>> again = joinAll(concert, users, n);
        List<Long> waitingPositions = new ArrayList<>();
        for (Map<?, ?> m : again) {
            long before = positionOf.get(num(m.get("userId")));
            assertThat(tokens).contains(m.get("token"));
            if (before <= 100) {
                assertThat(m.get("status")).isEqualTo("ACTIVE");
                assertThat(m.get("activeUntil")).isNotNull();
            } else {
                assertThat(m.get("status")).isEqualTo("WAITING");
                assertThat(num(m.get("position"))).isEqualTo(before - 100);
                waitingPositions.add(num(m.get("position")));
            }
        }
        assertThat(waitingPositions.stream().sorted().toList()).isEqualTo(LongStream.rangeClosed(1, n - 100).boxed().toList());
    }

    @Test
    void leavingKillsTheTokenAndMovesOthersUp() {
        long concert = newConcert();
        pause(concert);
        String a = token(freshUserId(), concert);
        String b = token(freshUserId(), concert);
        String c = token(freshUserId(), concert);
        assertThat(num(statusBody(c).get("position"))).isEqualTo(3);
        withQueueToken(b).delete().uri("/api/v1/queues/token").exchange()
                .expectStatus().isNoContent();
        status(b).expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");
        assertThat(num(statusBody(c).get("position"))).isEqualTo(2);
        assertThat(num(statusBody(a).get("position"))).isEqualTo(1);
    }

    @Test
    void policyPausesAndAdminAdmitsWithinTheCap() {
        long concert = newConcert();
        Map<?, ?> defaults = queueView(concert);
        assertThat(num(defaults.get("admitPerTick"))).isEqualTo(500);
        assertThat(num(defaults.get("maxActive"))).isEqualTo(5000);
        Map<?, ?> paused = policy(concert, Map.of("admitPerTick", 0, "maxActive", 3));
        assertThat(num(paused.get("admitPerTick"))).isZero();
        assertThat(num(paused.get("maxActive"))).isEqualTo(3);
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            tokens.add(token(freshUserId(), concert));
        }
        // While paused nothing is admitted, and the estimate is unknown (null), with the reason.
        Map<?, ?> waiting = statusBody(tokens.get(0));
        assertThat(waiting.get("status")).isEqualTo("WAITING");
        assertThat(waiting.get("admission")).isEqualTo("PAUSED");
        assertThat(waiting.containsKey("estimatedWaitSeconds")).isTrue();
        assertThat(waiting.get("estimatedWaitSeconds")).isNull();
        assertThat(admit(concert, 2)).isEqualTo(2);
        assertThat(admit(concert, 5)).isEqualTo(1); // only one slot left under the cap of 3
        assertThat(admit(concert, 5)).isZero();
        Map<?, ?> view = queueView(concert);
        assertThat(num(view.get("active"))).isEqualTo(3);
        assertThat(num(view.get("waiting"))).isEqualTo(2);
        assertThat(statusBody(tokens.get(2)).get("status")).isEqualTo("ACTIVE");
        assertThat(num(statusBody(tokens.get(3)).get("position"))).isEqualTo(1);
    }

    /** SPEC 4.7: concurrent ticks and operator admits never take the active count beyond the cap. */
    @Test
    void capIsNeverExceededUnderConcurrentAdmitsAndTicks() {
        long concert = newConcert();
        int cap = 40;
        policy(concert, Map.of("admitPerTick", 0, "maxActive", cap));
        joinAll(concert, freshUsers(300), 100);
        var client = racingClient();
        // Scheduler ticks now admit 7 per tick while 60 operator admits of random sizes race them.
        policy(concert, Map.of("admitPerTick", 7, "maxActive", cap));
        var random = java.util.concurrent.ThreadLocalRandom.current();
        List<Integer> sizes = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            sizes.add(random.nextInt(1, 6));
        }
        long admittedByOperators = Flux.fromIterable(sizes)
                .flatMap(count -> client.post().uri("/api/v1/admin/queues/{id}/admit", concert).header(ADMIN_KEY_HEADER, ADMIN_KEY)
                        .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("count", count))
                        .retrieve().bodyToMono(Map.class)
                        .map(m -> {
                            assertThat(num(m.get("active"))).isLessThanOrEqualTo(cap);
                            return num(m.get("admitted"));
                        }), 60)
                .reduce(0L, Long::sum).block();
        assertThat(admittedByOperators).isLessThanOrEqualTo(cap);
        Map<?, ?> view = queueView(concert);
        assertThat(num(view.get("active"))).isEqualTo(cap);
        assertThat(num(view.get("waiting"))).isEqualTo(300 - cap);
        assertThat(num(view.get("admittedTotal"))).isEqualTo(cap);
    }

    @Test
    void metricsShowWaitingActiveAdmissionsAndStreams() {
        long concert = newConcert();
        pause(concert);
        token(freshUserId(), concert);
        token(freshUserId(), concert);
        token(freshUserId(), concert);
        admit(concert, 1);
        String tag = "concert=\"" + concert + "\"";
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).untilAsserted(() -> {
            String body = prometheusScrape();
            assertThat(body).containsPattern("booking_queue_waiting\\{[^}]*" + tag + "[^}]*} 2\\.0")
                    .containsPattern("booking_queue_active\\{[^}]*" + tag + "[^}]*} 1\\.0")
                    .containsPattern("booking_queue_admissions_total\\{[^}]*} [1-9]")
                    .containsPattern("booking_queue_streams\\{[^}]*} [0-9]"); // a number, not NaN
        });
    }
}
