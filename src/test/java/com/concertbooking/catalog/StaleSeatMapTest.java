package com.concertbooking.catalog;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.concertbooking.queue.QueueTestSupport;
import com.concertbooking.auth.QueuePass;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 8: a seat map may be up to 1 s stale, but a hold is decided by the database, so a stale map can cost a fan
 * a 409, never a double booking. Fans who all read the same cached map race for the seat it shows free.
 */
class StaleSeatMapTest extends QueueTestSupport {

    private static final int FANS = 60;

    record Outcome(long user, int status, String body) {}

    @Test
    void fansReadingOneCachedMapNeverHoldOneSeatTwice() {
        CreatedConcert concert = createConcert(20);
        long date = concert.firstDateId();
        List<Long> fans = freshUsers(FANS + 1);
        Map<Long, String> tokens = activeTokens(concert.concertId(), fans);
        Map<Long, String> bearers = bearers(fans);
        var client = racingClient();

        // Warm-up by the extra fan on another seat (the server's first hold builds its JSON readers, off the race).
        long warm = fans.get(FANS);
        assertThat(hold(client, warm, bearers, tokens, date, 20).block(Duration.ofSeconds(30)).status()).isEqualTo(201);

        List<Long> racers = fans.subList(0, FANS);
        // Every racer reads the map first: one cached version, seat 5 free in it.
        List<String> maps = Flux.fromIterable(racers)
                .flatMap(u -> client.get().uri("/api/v1/concerts/dates/{d}/seats", date)
                        .header(HttpHeaders.AUTHORIZATION, bearers.get(u)).header(QueuePass.HEADER, tokens.get(u))
                        .retrieve().bodyToMono(String.class), FANS)
                .collectList().block(Duration.ofSeconds(60));
        assertThat(maps).hasSize(FANS).allMatch(m -> m.contains("\"seatNumber\":5,"));

        // All of them try to hold seat 5 at once.
        List<Outcome> outcomes = Flux.fromIterable(racers)
                .flatMap(u -> hold(client, u, bearers, tokens, date, 5), FANS)
                .collectList().block(Duration.ofSeconds(60));
        assertThat(outcomes.stream().filter(o -> o.status() == 201)).as("holds of seat 5").hasSize(1);
        assertThat(outcomes.stream().filter(o -> o.status() != 201))
                .hasSize(FANS - 1)
                .allMatch(o -> o.status() == 409 && o.body().contains("\"code\":\"SEAT_UNAVAILABLE\""), "409 SEAT_UNAVAILABLE");
        long heldRows = database.sql("SELECT COUNT(*) AS n FROM reservation WHERE seat_id = (SELECT id FROM seat WHERE concert_date_id = :d AND seat_number = 5) AND status = 'HELD'")
                .bind("d", date).map(r -> r.get("n", Long.class)).one().block();
        assertThat(heldRows).isEqualTo(1);

        // A loser's map may still show seat 5 (within the bound); trying it again is refused all the same.
        long loser = outcomes.stream().filter(o -> o.status() != 201).findFirst().orElseThrow().user();
        Outcome again = hold(client, loser, bearers, tokens, date, 5).block(Duration.ofSeconds(30));
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.body()).contains("\"code\":\"SEAT_UNAVAILABLE\"");
    }

    private static Mono<Outcome> hold(org.springframework.web.reactive.function.client.WebClient client, long user,
                                      Map<Long, String> bearers, Map<Long, String> tokens, long date, int seat) {
        return client.post().uri("/api/v1/reservations").contentType(MediaType.APPLICATION_JSON)
                .header(HttpHeaders.AUTHORIZATION, bearers.get(user)).header(QueuePass.HEADER, tokens.get(user))
                .bodyValue("{\"userId\":" + user + ",\"concertDateId\":" + date + ",\"seatNumber\":" + seat + "}")
                .exchangeToMono(r -> r.bodyToMono(String.class).defaultIfEmpty("").map(b -> new Outcome(user, r.statusCode().value(), b)));
    }
}
