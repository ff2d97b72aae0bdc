package com.concertbooking.queue;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.RedisConnectionFailureException;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fault injection: with Redis unreachable, token checks fail fast with a dependency error (which the API renders
 * as 503 DEPENDENCY_UNAVAILABLE with Retry-After), never letting a request through, and the background loops
 * survive failed passes.
 */
class QueueRedisDownTest {

    private static final QueueProperties PROPERTIES = new QueueProperties(500, Duration.ofSeconds(1), 5000, Duration.ofMinutes(10),
            Duration.ofMinutes(2), 2);
    private static final TokenProperties TOKEN = new TokenProperties("0123456789abcdef0123456789abcdef", true);

    private LettuceConnectionFactory deadRedis;

    @AfterEach
    void close() {
        deadRedis.destroy();
    }

    private QueueStore deadStore() {
        // Port 1 on loopback: nothing listens, connections are refused at once.
        deadRedis = new LettuceConnectionFactory(new RedisStandaloneConfiguration("127.0.0.1", 1),
                LettuceClientConfiguration.builder().commandTimeout(Duration.ofMillis(300)).build());
        deadRedis.afterPropertiesSet();
        return new QueueStore(new ReactiveStringRedisTemplate(deadRedis), null, null, PROPERTIES); // never reaches the database
    }

    private static QueueService service(QueueStore store, TokenCodec codec) {
        return new QueueService(store, codec, new QueueIds(codec), null, new WaitEstimates(Clock.systemUTC(), PROPERTIES), null, null,
                Clock.systemUTC());
    }

    @Test
    void tokenChecksFailClosedWithADependencyError() {
        QueueStore store = deadStore();
        TokenCodec codec = new TokenCodec(TOKEN);
        QueueService service = service(store, codec);
        String genuine = codec.sign(7, 3, "entry");
        StepVerifier.create(service.verify(genuine))
                .expectErrorSatisfies(e -> assertThat(isDependencyFailure(e)).as(e.toString()).isTrue())
                .verify(Duration.ofSeconds(5));
        StepVerifier.create(store.leave(3, 7, "entry"))
                .expectErrorSatisfies(e -> assertThat(isDependencyFailure(e)).as(e.toString()).isTrue())
                .verify(Duration.ofSeconds(5));
    }

    @Test
    void schedulerAndStreamHubSurviveFailedPasses() throws Exception {
        QueueStore store = deadStore();
        QueueMetrics metrics = new QueueMetrics(new SimpleMeterRegistry());
        AdmissionScheduler scheduler = new AdmissionScheduler(store, null, null, new WaitEstimates(Clock.systemUTC(), PROPERTIES), metrics, PROPERTIES);
        StepVerifier.create(store.tick(3)).expectError().verify(Duration.ofSeconds(5));
        // Nothing live on this instance (joins failed): a pass asks Redis nothing and has nothing to report.
        StepVerifier.create(scheduler.tickAll()).expectNext(List.of()).verifyComplete();
        QueueStreams hub = new QueueStreams(store, service(store, new TokenCodec(TOKEN)), null, metrics, deadRedis, PROPERTIES);
        StepVerifier.create(hub.pollOnce()).verifyComplete(); // nothing open: no Redis call at all
        scheduler.start();
        hub.start();
        try {
            Thread.sleep(1500); // several failing admission passes
            assertThat(scheduler.isRunning()).isTrue();
            assertThat(hub.isRunning()).isTrue();
        } finally {
            scheduler.stop();
            hub.stop();
        }
        assertThat(scheduler.isRunning()).isFalse();
    }

    private static boolean isDependencyFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RedisConnectionFailureException || t instanceof TimeoutException
                    || t instanceof io.lettuce.core.RedisException) {
                return true;
            }
        }
        return false;
    }
}
