package com.concertbooking.catalog;

import java.time.Clock;
import java.time.Duration;

import com.concertbooking.support.IntegrationTest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import tools.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** Fault injection: with Redis unreachable, seat maps and counts are still served (from the database), changes still show. */
class SeatMapsRedisDownTest extends IntegrationTest {

    @Autowired
    CatalogStore store;

    @Autowired
    ObjectMapper json;

    private LettuceConnectionFactory deadRedis;
    private SeatMaps seatMaps;
    private SeatAvailability availability;

    @AfterEach
    void close() {
        seatMaps.stop();
        availability.stop();
        deadRedis.destroy();
    }

    @Test
    void unreachableRedisCostsNothingButTheShortcut() throws InterruptedException {
        // Port 1 on loopback: nothing listens, connections are refused at once.
        deadRedis = new LettuceConnectionFactory(new RedisStandaloneConfiguration("127.0.0.1", 1),
                LettuceClientConfiguration.builder().commandTimeout(Duration.ofMillis(200)).build());
        deadRedis.afterPropertiesSet();
        var dead = new ReactiveStringRedisTemplate(deadRedis);
        availability = new SeatAvailability(store, dead, Clock.systemUTC(), SeatMapProperties.defaults());
        availability.start();
        seatMaps = new SeatMaps(store, availability, json, dead, new SimpleMeterRegistry(), Clock.systemUTC(), SeatMapProperties.defaults());
        seatMaps.listen();

        CreatedConcert concert = createConcert(12);
        long date = concert.firstDateId();
        assertThat(new String(seatMaps.seatMapJson(date, true).block(Duration.ofSeconds(10)))).contains("\"seatNumber\":12,");
        assertThat(new String(seatMaps.datesJson(concert.concertId()).block(Duration.ofSeconds(10)))).contains("\"availableSeats\":12");

        database.sql("UPDATE seat SET status = 'SOLD' WHERE concert_date_id = :d AND seat_number = 12").bind("d", date)
                .fetch().rowsUpdated().block();
        // As the seat owner would (its count row in the same statement).
        database.sql("UPDATE seat_count SET free = free - 1, sold = sold + 1 WHERE concert_date_id = :d AND grade = 'R' AND slot = 12 MOD 8")
                .bind("d", date).fetch().rowsUpdated().block();
        seatMaps.changed(date); // the announcement to other instances fails quietly
        Duration deadline = Duration.ofSeconds(10);
        long until = System.nanoTime() + deadline.toNanos();
        while (new String(seatMaps.seatMapJson(date, true).block(deadline)).contains("\"seatNumber\":12,")
                || !new String(seatMaps.datesJson(concert.concertId()).block(deadline)).contains("\"availableSeats\":11")) {
            assertThat(System.nanoTime()).as("the change shows within " + deadline).isLessThan(until);
            Thread.sleep(20);
        }
        assertThat(seatMaps.seatMapJson(Long.MAX_VALUE, true).blockOptional(deadline)).isEmpty();
    }
}
