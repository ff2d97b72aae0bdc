package com.concertbooking.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.data.redis.core.script.RedisScript;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SPEC 4.12: an operator's policy lives in the database (Redis only caches it), and a user dropped as idle is
 * never admitted. Redis is damaged here the way issue 9 found it: the policy key gone, an older copy of it, and
 * thousands of idle users at the front of the line.
 */
class QueuePolicyTest extends QueueTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(5);

    /** Users who last showed up ten minutes ago, placed ahead of everyone (as after a stall of the sweeps). */
    private static final RedisScript<Long> SEED_IDLE = RedisScript.of("""
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local base, n = tonumber(ARGV[1]), tonumber(ARGV[2])
            for i = 1, n do
              local u = tostring(base + i)
              redis.call('ZADD', KEYS[1], i - n - 1 - tonumber(ARGV[3]), u)
              redis.call('ZADD', KEYS[2], now - 600000, u)
              redis.call('HSET', KEYS[3], u, 'idle-' .. u)
            end
            return n""", Long.class);

    private List<Long> seedIdle(long concert, long base, int n, int offset) {
        redis.execute(SEED_IDLE, List.of(QueueStore.key(concert, "wait"), QueueStore.key(concert, "seen"), QueueStore.key(concert, "entry")),
                List.of(Long.toString(base), Integer.toString(n), Integer.toString(offset))).blockLast(WAIT);
        List<Long> ids = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            ids.add(base + i);
        }
        return ids;
    }

    private List<Long> activeUsers(long concert) {
        return redis.opsForZSet().range(QueueStore.key(concert, "active"), org.springframework.data.domain.Range.unbounded())
                .map(Long::parseLong).collectList().block(WAIT);
    }

    private long lastTickSlot(long concert) {
        String slot = redis.opsForValue().get(QueueStore.key(concert, "tick")).block(WAIT);
        return slot == null ? -1 : Long.parseLong(slot);
    }

    @Test
    void aPausedQueueStaysPausedWhenRedisLosesThePolicy() {
        long concert = newConcert();
        policy(concert, Map.of("admitPerTick", 0, "maxActive", 100, "waitingTimeoutSeconds", 600));
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            tokens.add(token(freshUserId(), concert));
        }
        String policyKey = QueueStore.key(concert, "policy");
        assertThat(redis.delete(policyKey).block(WAIT)).isEqualTo(1);

        // The admission steps find no cached policy: they restore it from the database instead of admitting on the
        // defaults (500 per tick). Then let two more ticks run on the restored copy.
        await().atMost(Duration.ofSeconds(10)).until(() -> Boolean.TRUE.equals(redis.hasKey(policyKey).block(WAIT)));
        long slot = lastTickSlot(concert);
        await().atMost(Duration.ofSeconds(10)).until(() -> lastTickSlot(concert) >= slot + 2);

        Map<?, ?> view = queueView(concert);
        assertThat(num(view.get("admitPerTick"))).isZero();
        assertThat(num(view.get("maxActive"))).isEqualTo(100);
        assertThat(num(view.get("waitingTimeoutSeconds"))).isEqualTo(600);
        assertThat(num(view.get("active"))).isZero();
        assertThat(num(view.get("waiting"))).isEqualTo(5);
        for (String token : tokens) {
            assertThat(statusBody(token).get("status")).isEqualTo("WAITING");
        }

        // The operator view alone restores a lost copy too.
        redis.delete(policyKey).block(WAIT);
        assertThat(num(queueView(concert).get("admitPerTick"))).isZero();
    }

    @Test
    void anOlderCachedPolicyIsBroughtBackToTheDatabaseVersion() {
        long concert = newConcert();
        policy(concert, Map.of("admitPerTick", 0, "maxActive", 7));
        token(freshUserId(), concert); // a live queue: this instance ticks it and keeps its policy in step
        // Redis came back from its append-only file a second behind: it holds an older copy of the policy.
        String policyKey = QueueStore.key(concert, "policy");
        redis.delete(policyKey).then(redis.<String, String>opsForHash().putAll(policyKey,
                Map.of("v", "0", "admitPerTick", "0", "maxActive", "3"))).block(WAIT);
        await().atMost(Duration.ofSeconds(15)).until(() -> num(queueView(concert).get("maxActive")) == 7);
    }

    /** Issue 9: with thousands of idle users ahead, admission takes only the users still present, by either path. */
    @Test
    void admissionNeverTakesUsersAlreadyIdleWhateverTheBacklog() {
        long concert = newConcert();
        pause(concert);
        long base = freshUserId() + 50_000_000L;
        List<Long> idle = new ArrayList<>(seedIdle(concert, base, 5000, 0));
        List<String> present = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            present.add(token(freshUserId(), concert));
        }
        // An operator admission of 500: the idle users in front are dropped, the ten present ones admitted.
        assertThat(admit(concert, 500)).isEqualTo(10);
        for (String token : present) {
            assertThat(statusBody(token).get("status")).isEqualTo("ACTIVE");
        }
        assertThat(activeUsers(concert)).hasSize(10).doesNotContainAnyElementsOf(idle);

        // The scheduler's ticks, the same: 3,000 more idle users ahead of five present ones, then admission resumes.
        idle.addAll(seedIdle(concert, base + 10_000, 3000, 10));
        List<String> more = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            more.add(token(freshUserId(), concert));
        }
        policy(concert, Map.of("admitPerTick", 500, "maxActive", 5000));
        await().atMost(Duration.ofSeconds(20)).until(() -> num(queueView(concert).get("active")) == 15);
        for (String token : more) {
            assertThat(statusBody(token).get("status")).isEqualTo("ACTIVE");
        }
        assertThat(activeUsers(concert)).hasSize(15).doesNotContainAnyElementsOf(idle);
        assertThat(num(queueView(concert).get("admittedTotal"))).isEqualTo(15);
    }
}
