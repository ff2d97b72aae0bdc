package com.concertbooking.support;

import java.nio.file.Files;
import java.nio.file.Path;

import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.testcontainers.service.connection.ServiceConnection;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Condition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.core.type.AnnotatedTypeMetadata;
import org.springframework.test.context.DynamicPropertyRegistrar;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.mysql.MySQLContainer;

/**
 * The one switch between real services from Testcontainers and the local ones bin/infra started.
 * {@code BOOKING_TEST_INFRA=containers|local}; unset means: containers when a Docker engine answers.
 */
@TestConfiguration(proxyBeanMethods = false)
@Conditional(TestInfrastructure.DockerAvailable.class)
public class TestInfrastructure {

    public static boolean useContainers() {
        String mode = System.getenv().getOrDefault("BOOKING_TEST_INFRA", System.getProperty("booking.test.infra", "auto"));
        if (mode.equals("local")) {
            return false;
        }
        if (mode.equals("containers")) {
            return true;
        }
        boolean maybeDocker = System.getenv("DOCKER_HOST") != null || Files.exists(Path.of("/var/run/docker.sock"));
        try {
            return maybeDocker && DockerClientFactory.instance().isDockerAvailable();
        } catch (Throwable e) {
            return false;
        }
    }

    /**
     * The Redis switch: {@code BOOKING_TEST_REDIS=cluster} runs the tests against the Redis Cluster of
     * {@code BOOKING_REDIS_CLUSTER_NODES} (started by {@code bin/infra up --redis-cluster}); unset or {@code single}
     * against the single Redis.
     */
    public static boolean redisCluster() {
        return "cluster".equals(System.getenv().getOrDefault("BOOKING_TEST_REDIS", System.getProperty("booking.test.redis", "single")));
    }

    static class DockerAvailable implements Condition {
        private static final boolean AVAILABLE = useContainers();

        @Override
        public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
            return AVAILABLE;
        }
    }

    @Bean
    @ServiceConnection
    MySQLContainer mysql() {
        return new MySQLContainer("mysql:8.4").withDatabaseName("booking_test").withUsername("booking").withPassword("booking");
    }

    @Bean
    @ServiceConnection(name = "redis")
    GenericContainer<?> redis() {
        return new GenericContainer<>("redis:7-alpine").withExposedPorts(6379)
                .withCommand("redis-server", "--appendonly", "yes", "--appendfsync", "everysec");
    }

    @Bean
    KafkaContainer kafka() {
        return new KafkaContainer("apache/kafka:4.1.1");
    }

    @Bean
    DynamicPropertyRegistrar containerProperties(MySQLContainer mysql, KafkaContainer kafka) {
        return registry -> {
            registry.add("spring.flyway.url", mysql::getJdbcUrl);
            registry.add("spring.flyway.user", mysql::getUsername);
            registry.add("spring.flyway.password", mysql::getPassword);
            registry.add("booking.kafka.bootstrap-servers", kafka::getBootstrapServers);
        };
    }
}
