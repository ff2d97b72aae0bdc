package com.concertbooking.catalog;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** Fault injection: with Redis unreachable the catalog is still served, from the database. */
class CatalogCacheFaultTest {

    private LettuceConnectionFactory deadRedis;
    private CatalogCache cache;

    @AfterEach
    void close() {
        cache.stop();
        deadRedis.destroy();
    }

    @Test
    void unreachableRedisDegradesToTheLoaderWithoutErrors() {
        // Port 1 on loopback: nothing listens, connections are refused at once.
        deadRedis = new LettuceConnectionFactory(new RedisStandaloneConfiguration("127.0.0.1", 1),
                LettuceClientConfiguration.builder().commandTimeout(Duration.ofMillis(200)).build());
        deadRedis.afterPropertiesSet();
        cache = new CatalogCache(new ReactiveStringRedisTemplate(deadRedis), JsonMapper.builder().build());
        cache.listen();

        AtomicInteger loads = new AtomicInteger();
        StepVerifier.create(cache.get("concert:1", String.class, () -> Mono.fromSupplier(() -> "from-db-" + loads.incrementAndGet())))
                .expectNext("from-db-1")
                .verifyComplete();
        // The local layer still works: the second read is served without loading again.
        StepVerifier.create(cache.get("concert:1", String.class, () -> Mono.fromSupplier(() -> "from-db-" + loads.incrementAndGet())))
                .expectNext("from-db-1")
                .verifyComplete();
        StepVerifier.create(cache.invalidateAll()).verifyComplete();
        assertThat(loads).hasValue(1);
    }
}
