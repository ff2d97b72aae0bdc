package com.concertbooking.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class QueueAdmissionTest extends QueueTestSupport {

    @Autowired
    QueueProperties properties;

    @Autowired
    QueuePolicies policies;

    /** A scheduler as another instance would run it: its own Redis connection, store and meters. */
    private record Instance(LettuceConnectionFactory connections, QueueStore store, AdmissionScheduler scheduler) {}

    private Instance anotherInstance() {
        var connections = anotherConnection();
        var store = new QueueStore(new ReactiveStringRedisTemplate(connections), policies, sales, properties);
        return new Instance(connections, store, new AdmissionScheduler(store, queueService, sales, new WaitEstimates(java.time.Clock.systemUTC(), properties),
                new QueueMetrics(new SimpleMeterRegistry()), properties));
    }

    /** SPEC 4.7: several instances tick the same queue; each slot admits once and each user is admitted once. */
    @Test
    void twoSchedulerInstancesOnOneRedisAdmitEachUserExactlyOnce() {
        long concert = newConcert();
        int users = 300;
        int perTick = 60;
        pause(concert);
        joinAll(concert, freshUsers(users), 100);

        Instance a = anotherInstance();
        Instance b = anotherInstance();
        // An instance ticks the queues its own requests touched: one more fan joins through each.
        List<Long> two = freshUsers(2);
        a.store().join(concert, two.get(0), java.util.UUID.randomUUID().toString()).block(Duration.ofSeconds(5));
        b.store().join(concert, two.get(1), java.util.UUID.randomUUID().toString()).block(Duration.ofSeconds(5));
        users += 2;
        Queue<QueueStore.TickResult> seenByA = new ConcurrentLinkedQueue<>();
        Queue<QueueStore.TickResult> seenByB = new ConcurrentLinkedQueue<>();
        // Both hammer the admission step far more often than once per tick, racing each other and the app's own scheduler.
        Disposable runA = Flux.interval(Duration.ofMillis(7)).onBackpressureDrop()
                .concatMap(i -> a.scheduler().tickAll()).subscribe(rs -> rs.stream().filter(r -> r.concertId() == concert).forEach(seenByA::add));
        Disposable runB = Flux.interval(Duration.ofMillis(5)).onBackpressureDrop()
                .concatMap(i -> b.scheduler().tickAll()).subscribe(rs -> rs.stream().filter(r -> r.concertId() == concert).forEach(seenByB::add));
        try {
            policy(concert, Map.of("admitPerTick", perTick, "maxActive", 10_000));
            await().atMost(Duration.ofSeconds(60)).until(() -> num(queueView(concert).get("waiting")) == 0);
        } finally {
            runA.dispose();
            runB.dispose();
        }

        List<Long> admittedIds = new ArrayList<>();
        Set<Long> claimedSlots = new HashSet<>();
        for (var r : concat(seenByA, seenByB)) {
            if (r.slot() >= 0) {
                assertThat(claimedSlots.add(r.slot())).as("slot %d claimed twice", r.slot()).isTrue();
            }
            assertThat(r.admitted()).isLessThanOrEqualTo(perTick);
            admittedIds.addAll(r.admittedUsers());
        }
        assertThat(new HashSet<>(admittedIds)).as("no user admitted twice").hasSize(admittedIds.size());
        assertThat(seenByA).isNotEmpty();
        assertThat(seenByB).isNotEmpty();
        Map<?, ?> view = queueView(concert);
        assertThat(num(view.get("active"))).isEqualTo(users);
        assertThat(num(view.get("admittedTotal"))).as("admissions counted by every instance, together").isEqualTo(users);
    }

    private static List<QueueStore.TickResult> concat(Queue<QueueStore.TickResult> a, Queue<QueueStore.TickResult> b) {
        List<QueueStore.TickResult> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** Abandonment: a waiting user with neither polls nor an open stream is dropped; those behind move up. */
    @Test
    void idleWaitingUserIsDroppedWhilePollingAndStreamingUsersStay() {
        long concert = newConcert();
        // 5 s: the polling user's requests (joins, the stream opening and each poll) must stay well inside it even on a
        // cold JVM on a loaded machine; with 2 s a first poll more than 2 s after the join lost the place.
        policy(concert, Map.of("admitPerTick", 0, "maxActive", 100, "waitingTimeoutSeconds", 5));
        String polling = token(freshUserId(), concert);
        String idle = token(freshUserId(), concert);
        String streaming = token(freshUserId(), concert);
        List<ServerSentEvent<Map>> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        Disposable stream = racingClient().get().uri("/api/v1/queues/stream?token={t}", streaming).retrieve()
                .bodyToFlux(new org.springframework.core.ParameterizedTypeReference<ServerSentEvent<Map>>() {})
                .subscribe(events::add);
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(25).toNanos();
            while (num(queueView(concert).get("waiting")) != 2) {
                assertThat(System.nanoTime()).as("idle user dropped in time").isLessThan(deadline);
                assertThat(statusBody(polling).get("status")).isEqualTo("WAITING");
                sleep(400);
            }
            // Well past the timeout for the others too: polling and streaming both count as presence.
            for (int i = 0; i < 15; i++) {
                assertThat(num(statusBody(polling).get("position"))).isEqualTo(1);
                sleep(400);
            }
            status(idle).expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");
            assertThat(num(statusBody(streaming).get("position"))).isEqualTo(2);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(events.stream()
                    .filter(e -> "position".equals(e.event())).map(e -> num(e.data().get("position"))).toList())
                    .startsWith(3L).contains(2L));
        } finally {
            stream.dispose();
        }
    }

    /**
     * The estimate follows what was actually admitted while admission ran (issue 17: paused time no longer dilutes the
     * rate), and there is none while paused, whatever was observed (AdmissionRateTest has the arithmetic).
     */
    @Test
    void estimatedWaitFollowsTheObservedAdmissionRateAndIsNullWhilePaused() {
        long concert = newConcert();
        pause(concert);
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            tokens.add(token(freshUserId(), concert));
        }
        String last = tokens.get(tokens.size() - 1);
        Map<?, ?> paused = statusBody(last);
        assertThat(paused.get("admission")).isEqualTo("PAUSED");
        assertThat(paused.get("estimatedWaitSeconds")).as("paused: unknown").isNull();
        // Two per 1 s tick: the observed rate settles near 2/s and the last fan's estimate is position / rate.
        policy(concert, Map.of("admitPerTick", 2, "maxActive", 5000));
        await().atMost(Duration.ofSeconds(15)).until(() -> waits.observedRate(concert).orElse(0) > 1.0
                && num(queueView(concert).get("admitPerTick")) == 2);
        Map<?, ?> view = queueView(concert);
        assertThat((Double) view.get("observedAdmissionsPerSecond")).isBetween(1.0, 4.0);
        Map<?, ?> running = statusBody(last);
        assertThat(running.get("admission")).isEqualTo("RUNNING");
        long position = num(running.get("position"));
        assertThat(num(running.get("estimatedWaitSeconds"))).isBetween(position / 4, position + 1);
        // Paused again: no estimate, though a rate was observed.
        pause(concert);
        Map<?, ?> again = statusBody(last);
        assertThat(again.get("admission")).isEqualTo("PAUSED");
        assertThat(again.get("estimatedWaitSeconds")).isNull();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
