package com.concertbooking.events;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The consumer against the real broker: idempotence, dead-lettering, and the admin listing's errors. */
class NotificationConsumerTest extends EventsTestSupport {

    @Autowired
    MeterRegistry registry;

    private String event(String eventId, long userId) {
        return """
                {"eventId":"%s","type":"payment-completed","occurredAt":"2026-01-01T00:00:00Z","userId":%d,
                 "reservationId":11,"paymentId":12,"concertId":1,"concertDateId":2,"seatId":3,"seatNumber":4,"amount":5}"""
                .formatted(eventId, userId);
    }

    @Test
    void aPoisonMessageGoesToTheDeadLetterTopicAndTheConsumerGoesOn() throws Exception {
        String key = "poison-" + UUID.randomUUID(); // one key: all three land on one partition, in this order
        String notJson = "not json {" + UUID.randomUUID();
        String noUser = "{\"eventId\":\"" + UUID.randomUUID() + "\",\"type\":\"payment-completed\"}";
        String good = UUID.randomUUID().toString();
        long userId = createUser(0);
        double deadBefore = registry.counter("booking.events.dead.lettered").count();

        KafkaTestClients.produce(bootstrap(), paymentTopic(), List.of(Map.entry(key, notJson), Map.entry(key, noUser), Map.entry(key, event(good, userId))));

        await().atMost(Duration.ofSeconds(30)).until(() -> notifications(good) == 1);
        List<ConsumerRecord<String, String>> dead = KafkaTestClients.read(bootstrap(), events.deadLetterTopic(paymentTopic()),
                r -> key.equals(r.key()), found -> found.size() >= 2, Duration.ofSeconds(30));
        assertThat(dead).extracting(ConsumerRecord::value).containsExactly(notJson, noUser);
        assertThat(KafkaTestClients.header(dead.get(0), "dlt.error")).contains("not JSON");
        assertThat(KafkaTestClients.header(dead.get(1), "dlt.error")).contains("userId");
        assertThat(KafkaTestClients.header(dead.get(0), "dlt.original.topic")).isEqualTo(paymentTopic());
        assertThat(KafkaTestClients.header(dead.get(0), "dlt.original.offset")).matches("\\d+");
        assertThat(registry.counter("booking.events.dead.lettered").count() - deadBefore).isGreaterThanOrEqualTo(2);
    }

    @Test
    void aRedeliveredEventIsRecordedOnce() throws Exception {
        String eventId = UUID.randomUUID().toString();
        String marker = UUID.randomUUID().toString();
        long userId = createUser(0);
        String key = "dup-" + UUID.randomUUID();
        double duplicatesBefore = registry.counter("booking.notifications.recorded", "result", "duplicate").count();

        KafkaTestClients.produce(bootstrap(), paymentTopic(),
                List.of(Map.entry(key, event(eventId, userId)), Map.entry(key, event(eventId, userId)), Map.entry(key, event(eventId, userId)),
                        Map.entry(key, event(marker, userId))));

        // The marker comes after the copies on the same partition: once it is recorded, all copies were consumed.
        await().atMost(Duration.ofSeconds(30)).until(() -> notifications(marker) == 1);
        assertThat(notifications(eventId)).isEqualTo(1);
        assertThat(registry.counter("booking.notifications.recorded", "result", "duplicate").count() - duplicatesBefore).isGreaterThanOrEqualTo(2);
    }

    @Test
    void theNotificationListNeedsTheAdminKeyAndAValidUserId() {
        web.get().uri("/api/v1/admin/notifications?userId=1").exchange().expectStatus().isUnauthorized();
        for (String bad : List.of("abc", "0", "-5", "99999999999999999999")) {
            web.get().uri("/api/v1/admin/notifications?userId=" + bad).header(ADMIN_KEY_HEADER, ADMIN_KEY)
                    .exchange().expectStatus().isBadRequest()
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        web.get().uri("/api/v1/admin/notifications").header(ADMIN_KEY_HEADER, ADMIN_KEY)
                .exchange().expectStatus().isBadRequest();
        web.get().uri("/api/v1/admin/notifications?userId={id}", createUser(0)).header(ADMIN_KEY_HEADER, ADMIN_KEY)
                .exchange().expectStatus().isOk().expectBody().json("[]");
    }
}
