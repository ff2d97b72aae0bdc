package com.concertbooking.events;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import com.concertbooking.events.OutboxWriter.EventType;
import com.concertbooking.support.TimeConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.reactive.TransactionalOperator;
import reactor.core.publisher.Mono;
import tools.jackson.databind.JsonNode;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Outbox to Kafka through the real broker: shape, exactly-when-committed, order per key, purge. */
class OutboxRelayTest extends EventsTestSupport {

    @Autowired
    OutboxRelay relay;

    @Test
    void aPaymentProducesOneRecordOfTheSpecShapeAndExactlyOneNotification() {
        long userId = createUser(1_000_000);
        CreatedConcert concert = createConcert(5);
        long dateId = concert.firstDateId();
        pauseAdmissions(concert.concertId());
        String token = joinQueue(userId, concert.concertId());
        admit(concert.concertId(), 1);
        long reservationId = hold(token, userId, dateId, 3);
        Map<?, ?> paid = pay(token, userId, reservationId);
        long paymentId = ((Number) paid.get("paymentId")).longValue();

        List<String> eventIds = eventIdsOf(reservationId);
        assertThat(eventIds).hasSize(1);
        String eventId = eventIds.get(0);
        await().atMost(Duration.ofSeconds(30)).until(() -> notifications(eventId) == 1);
        assertThat(outboxStatus(eventId)).isEqualTo("SENT");

        // The record as any outside consumer sees it: exactly one, keyed by the concert date.
        List<ConsumerRecord<String, String>> records = KafkaTestClients.read(bootstrap(), paymentTopic(),
                r -> r.value() != null && r.value().contains(eventId), found -> !found.isEmpty(), Duration.ofSeconds(30));
        assertThat(records).hasSize(1);
        ConsumerRecord<String, String> record = records.get(0);
        assertThat(record.key()).isEqualTo(Long.toString(dateId));
        JsonNode value = json.readTree(record.value());
        assertThat(value.get("eventId").stringValue()).isEqualTo(eventId);
        assertThat(value.get("type").stringValue()).isEqualTo("payment-completed");
        assertThat(Instant.parse(value.get("occurredAt").stringValue())).isBefore(Instant.now().plusSeconds(1));
        assertThat(value.get("userId").longValue()).isEqualTo(userId);
        assertThat(value.get("reservationId").longValue()).isEqualTo(reservationId);
        assertThat(value.get("paymentId").longValue()).isEqualTo(paymentId);
        assertThat(value.get("concertId").longValue()).isEqualTo(concert.concertId());
        assertThat(value.get("concertDateId").longValue()).isEqualTo(dateId);
        assertThat(value.get("seatNumber").intValue()).isEqualTo(3);
        assertThat(value.get("seatId").isIntegralNumber()).isTrue();
        assertThat(value.get("amount").longValue()).isEqualTo(((Number) paid.get("amount")).longValue());

        // And through the admin API: one notification for this user.
        List<?> listed = web.get().uri("/api/v1/admin/notifications?userId={id}", userId)
                .header(ADMIN_KEY_HEADER, ADMIN_KEY)
                .exchange().expectStatus().isOk()
                .expectBody(List.class).returnResult().getResponseBody();
        assertThat(listed).hasSize(1);
        Map<?, ?> n = (Map<?, ?>) listed.get(0);
        assertThat(n.get("eventId")).isEqualTo(eventId);
        assertThat(n.get("type")).isEqualTo("payment-completed");
        assertThat(((Number) n.get("userId")).longValue()).isEqualTo(userId);
        assertThat(((Number) n.get("reservationId")).longValue()).isEqualTo(reservationId);
        assertThat(((Number) n.get("paymentId")).longValue()).isEqualTo(paymentId);
        assertThat(Instant.parse((String) n.get("createdAt"))).isNotNull();
    }

    @Test
    void aRolledBackEventIsNeverPublished() {
        long userId = createUser(0);
        CreatedConcert concert = createConcert(5);
        long dateId = concert.firstDateId();
        AtomicReference<String> rolledBack = new AtomicReference<>();
        Mono<String> failingBusinessTx = outboxWriter.append(EventType.PAYMENT_COMPLETED, dateId, paymentPayload(userId, concert.concertId(), dateId, 2))
                .doOnNext(rolledBack::set)
                .then(Mono.error(new IllegalStateException("business rule failed after the outbox write")));
        assertThatThrownBy(() -> TransactionalOperator.create(transactionManager).transactional(failingBusinessTx).block(Duration.ofSeconds(10)))
                .hasMessageContaining("business rule failed");
        assertThat(rolledBack.get()).isNotNull();

        // A later committed event of the same key is delivered: by then the rolled-back one would have been too.
        String later = commitEvent(EventType.PAYMENT_COMPLETED, dateId, paymentPayload(userId, concert.concertId(), dateId, 3));
        await().atMost(Duration.ofSeconds(30)).until(() -> notifications(later) == 1);
        assertThat(outboxStatus(rolledBack.get())).isEqualTo("ABSENT");
        assertThat(notifications(rolledBack.get())).isZero();
    }

    @Test
    void eventsOfOneConcertDateArriveInCommitOrder() {
        long userId = createUser(0);
        CreatedConcert concert = createConcert(5, 30, 31);
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();
        for (int i = 0; i < 40; i++) { // two keys, interleaved commits
            long dateId = concert.dateIds().get(i % 2);
            String id = commitEvent(EventType.PAYMENT_COMPLETED, dateId, paymentPayload(userId, concert.concertId(), dateId, i));
            (i % 2 == 0 ? first : second).add(id);
        }
        for (int k = 0; k < 2; k++) {
            String key = Long.toString(concert.dateIds().get(k));
            List<String> expected = k == 0 ? first : second;
            List<ConsumerRecord<String, String>> records = KafkaTestClients.read(bootstrap(), paymentTopic(),
                    r -> key.equals(r.key()), found -> found.size() >= expected.size(), Duration.ofSeconds(30));
            assertThat(records).extracting(r -> json.readTree(r.value()).get("eventId").stringValue()).containsExactlyElementsOf(expected);
            assertThat(records).extracting(ConsumerRecord::partition).containsOnly(records.get(0).partition());
        }
    }

    @Test
    void aRestartedRelayReleasesWhatItsEarlierRunHadClaimed() throws InterruptedException {
        // A row the instance had claimed just before it was killed: leased to its id for another hour.
        String eventId = UUID.randomUUID().toString();
        db.sql("""
                INSERT INTO outbox (event_id, event_type, topic, message_key, payload, status, created_at, claimed_by, claimed_until)
                VALUES (?, 'payment-completed', 'booking.payment.completed', ?, '{}', 'PENDING', ?, ?, ?)""")
                .bind(0, eventId).bind(1, "restart-" + eventId).bind(2, TimeConfig.toDb(Instant.now()))
                .bind(3, relay.instanceId()).bind(4, TimeConfig.toDb(Instant.now().plus(Duration.ofHours(1))))
                .fetch().rowsUpdated().block(Duration.ofSeconds(10));
        CountDownLatch stopped = new CountDownLatch(1);
        relay.stop(stopped::countDown);
        assertThat(stopped.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(outboxStatus(eventId)).isEqualTo("PENDING");

        relay.start(); // the instance's next life, under the same id

        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(outboxStatus(eventId)).isEqualTo("SENT"));
    }

    @Test
    void sentRowsArePurgedAfterTheRetentionAndOthersStay() {
        Instant now = Instant.now();
        String old = UUID.randomUUID().toString();
        String recent = UUID.randomUUID().toString();
        for (var row : List.of(Map.entry(old, now.minus(Duration.ofDays(10))), Map.entry(recent, now.minus(Duration.ofHours(1))))) {
            db.sql("""
                    INSERT INTO outbox (event_id, event_type, topic, message_key, payload, status, created_at, sent_at)
                    VALUES (?, 'payment-completed', 'booking.payment.completed', '1', '{}', 'SENT', ?, ?)""")
                    .bind(0, row.getKey()).bind(1, TimeConfig.toDb(row.getValue())).bind(2, TimeConfig.toDb(row.getValue()))
                    .fetch().rowsUpdated().block(Duration.ofSeconds(10));
        }
        long purged = relay.purge(now.minus(Duration.ofDays(3))).block(Duration.ofSeconds(30));
        assertThat(purged).isGreaterThanOrEqualTo(1);
        assertThat(outboxStatus(old)).isEqualTo("ABSENT");
        assertThat(outboxStatus(recent)).isEqualTo("SENT");
    }
}
