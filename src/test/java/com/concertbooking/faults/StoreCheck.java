package com.concertbooking.faults;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import com.concertbooking.events.KafkaTestClients;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * "Nothing lost", read from the stores themselves after a run (SPEC 4.1, 4.3, 4.4, 4.6, 4.10, 4.11; issue 20 item 3):
 * the database, the notification table and the Kafka topic. Shared by the fleet's kill check, the fault tests and
 * the fault bench. It returns what it found (counts and a list of violations) instead of asserting, so a bench can
 * report the figures; callers assert {@code problems()} is empty.
 *
 * @param dateIds   the concert dates of the run: every reservation, seat and event of them is checked
 * @param fans      what each fan was told: confirmed charges, 2xx payments, refunds
 * @param kafka     bootstrap servers and the payment topic (null: the topic is not read)
 */
public record StoreCheck(List<Long> dateIds, Collection<FanRecord> fans, Kafka kafka, Duration notificationWait) {

    /**
     * One fan's view of the run.
     *
     * @param startBalance the balance before the run plus every charge the service confirmed
     * @param paid         reservations whose payment got a 2xx answer (and that the fan did not later have refunded)
     * @param refunded     reservations refunded with a 2xx answer
     */
    public record FanRecord(long userId, long startBalance, Set<Long> paid, Set<Long> refunded) {}

    public record Kafka(String bootstrap, String paymentTopic) {}

    /** What was found. Nothing lost means {@code problems} is empty. */
    public record Result(int paidReservations, int payments, int refunds, long outboxEvents, long notifications,
                         int kafkaPaymentEvents, int kafkaDuplicates, Duration notifiedAfter, List<String> problems) {
        public String summary() {
            return String.format("%d PAID reservations, %d payment rows (%d refunded), %d outbox events, %d notifications "
                            + "(all in %d s), %d payment events on Kafka (%d redelivered duplicates); %d problems%s",
                    paidReservations, payments, refunds, outboxEvents, notifications, notifiedAfter.toSeconds(), kafkaPaymentEvents,
                    kafkaDuplicates, problems.size(), problems.isEmpty() ? "" : ": " + problems);
        }
    }

    public Result run(Connection c) throws SQLException {
        List<String> problems = new ArrayList<>();
        String dates = dateIds.stream().map(String::valueOf).collect(Collectors.joining(","));
        String users = fans.stream().map(f -> String.valueOf(f.userId())).collect(Collectors.joining(","));
        if (users.isEmpty()) {
            users = "-1";
        }
        try (Statement s = c.createStatement()) {
            // 4.1: each SOLD seat has exactly one PAID reservation and points to it; no seat is live-held twice.
            none(problems, "seats paid twice", rows(s, "SELECT seat_id FROM reservation WHERE concert_date_id IN (" + dates
                    + ") AND status = 'PAID' GROUP BY seat_id HAVING COUNT(*) > 1"));
            none(problems, "SOLD seats without their PAID reservation", rows(s, "SELECT s.id FROM seat s LEFT JOIN reservation r "
                    + "ON r.id = s.reservation_id WHERE s.concert_date_id IN (" + dates + ") AND s.status = 'SOLD' "
                    + "AND (r.id IS NULL OR r.status <> 'PAID' OR r.seat_id <> s.id)"));
            none(problems, "PAID reservations whose seat is not theirs", rows(s, "SELECT r.id FROM reservation r JOIN seat s "
                    + "ON s.id = r.seat_id WHERE r.concert_date_id IN (" + dates + ") AND r.status = 'PAID' "
                    + "AND (s.status <> 'SOLD' OR s.reservation_id <> r.id)"));
            none(problems, "seats held or sold by two live reservations", rows(s, "SELECT seat_id FROM reservation WHERE "
                    + "concert_date_id IN (" + dates + ") AND (status = 'PAID' OR status = 'HELD' AND held_until > UTC_TIMESTAMP(6)) "
                    + "GROUP BY seat_id HAVING COUNT(*) > 1"));
            // 4.10: at most 4 live holds per user and date.
            none(problems, "users with more than 4 live holds on a date", rows(s, "SELECT user_id FROM reservation WHERE "
                    + "concert_date_id IN (" + dates + ") AND status = 'HELD' AND held_until > UTC_TIMESTAMP(6) "
                    + "GROUP BY user_id, concert_date_id HAVING COUNT(*) > 4"));

            // What the fans were told matches what is stored: a 2xx payment is a PAID reservation and the other way round.
            Set<Long> paid = new HashSet<>(longs(s, "SELECT id FROM reservation WHERE concert_date_id IN (" + dates + ") AND status = 'PAID'"));
            Set<Long> told = fans.stream().flatMap(f -> f.paid().stream()).collect(Collectors.toSet());
            same(problems, "PAID reservations vs 2xx payments", paid, told);
            Set<Long> refunded = new HashSet<>(longs(s, "SELECT reservation_id FROM payment WHERE user_id IN (" + users
                    + ") AND status = 'REFUNDED'"));
            same(problems, "refunded reservations vs 2xx refunds", refunded,
                    fans.stream().flatMap(f -> f.refunded().stream()).collect(Collectors.toSet()));

            // 4.4: one payment row per paid (or refunded) reservation, one COMPLETED payment per PAID reservation.
            none(problems, "reservations with two payment rows", rows(s, "SELECT reservation_id FROM payment WHERE user_id IN ("
                    + users + ") GROUP BY reservation_id HAVING COUNT(*) > 1"));
            same(problems, "COMPLETED payments vs PAID reservations",
                    new HashSet<>(longs(s, "SELECT reservation_id FROM payment WHERE user_id IN (" + users + ") AND status = 'COMPLETED'")), paid);

            // 4.3: balance = start + confirmed charges - payments + refunds, per user, to the won; never negative.
            Map<Long, Long> balances = new HashMap<>();
            try (ResultSet r = s.executeQuery("SELECT u.id, u.balance, "
                    + "(SELECT COALESCE(SUM(p.amount), 0) FROM payment p WHERE p.user_id = u.id), "
                    + "(SELECT COALESCE(SUM(p.amount), 0) FROM payment p WHERE p.user_id = u.id AND p.status = 'REFUNDED') "
                    + "FROM users u WHERE u.id IN (" + users + ")")) {
                while (r.next()) {
                    if (r.getLong(2) < 0) {
                        problems.add("user " + r.getLong(1) + " has a negative balance " + r.getLong(2));
                    }
                    balances.put(r.getLong(1), r.getLong(2) + r.getLong(3) - r.getLong(4));
                }
            }
            for (FanRecord f : fans) {
                Long before = balances.get(f.userId());
                if (before == null || before != f.startBalance()) {
                    problems.add("user " + f.userId() + ": balance + payments - refunds = " + before + ", expected " + f.startBalance());
                }
            }

            // 4.11: no Idempotency-Key stuck in progress.
            none(problems, "Idempotency-Keys left IN_PROGRESS", rows(s, "SELECT idem_key FROM idempotency_key WHERE user_id IN ("
                    + users + ") AND status = 'IN_PROGRESS'"));

            // 4.6: exactly one outbox event per payment and per refund...
            List<Long> payments = longs(s, "SELECT id FROM payment WHERE user_id IN (" + users + ")");
            List<Long> refundedPayments = longs(s, "SELECT id FROM payment WHERE user_id IN (" + users + ") AND status = 'REFUNDED'");
            oneEach(problems, "payment-completed events", countByPayment(s, "payment-completed", users), payments);
            oneEach(problems, "payment-refunded events", countByPayment(s, "payment-refunded", users), refundedPayments);

            // ...each consumed into exactly one notification (waits for the consumer to catch up).
            String ourEvents = "SELECT event_id FROM outbox WHERE message_key IN ("
                    + dateIds.stream().map(d -> "'" + d + "'").collect(Collectors.joining(",")) + ")";
            long start = System.nanoTime();
            long deadline = start + notificationWait.toNanos();
            long missing;
            do {
                missing = count(s, "SELECT COUNT(*) FROM (" + ourEvents + ") e LEFT JOIN notification n ON n.event_id = e.event_id WHERE n.id IS NULL");
                if (missing > 0) {
                    LocalProcesses.sleep(500);
                }
            } while (missing > 0 && System.nanoTime() < deadline);
            Duration notifiedAfter = Duration.ofNanos(System.nanoTime() - start);
            long events = count(s, "SELECT COUNT(*) FROM (" + ourEvents + ") e");
            long notifications = count(s, "SELECT COUNT(*) FROM notification n JOIN (" + ourEvents + ") e ON e.event_id = n.event_id");
            if (missing > 0) {
                problems.add(missing + " outbox events without their notification after " + notificationWait.toSeconds() + " s");
            }
            if (notifications != events) {
                problems.add(notifications + " notifications for " + events + " events");
            }
            long paymentNotifications = count(s, "SELECT COUNT(*) FROM notification WHERE type = 'payment-completed' AND user_id IN (" + users + ")");
            if (paymentNotifications != payments.size()) {
                problems.add(paymentNotifications + " payment notifications for " + payments.size() + " payments");
            }

            // ...and on Kafka: every payment's event on the payment topic (duplicates from at-least-once delivery allowed).
            int onKafka = 0;
            int duplicates = 0;
            if (kafka != null) {
                Map<String, Long> eventOfPayment = new HashMap<>();
                try (ResultSet r = s.executeQuery("SELECT event_id, CAST(JSON_VALUE(payload, '$.paymentId') AS INTEGER) FROM outbox "
                        + "WHERE event_type = 'payment-completed' AND CAST(JSON_VALUE(payload, '$.userId') AS INTEGER) IN (" + users + ")")) {
                    while (r.next()) {
                        eventOfPayment.put(r.getString(1), r.getLong(2));
                    }
                }
                Set<String> keys = dateIds.stream().map(String::valueOf).collect(Collectors.toSet());
                List<ConsumerRecord<String, String>> records = KafkaTestClients.read(kafka.bootstrap(), kafka.paymentTopic(),
                        rec -> keys.contains(rec.key()),
                        found -> found.stream().map(rec -> eventId(rec.value())).collect(Collectors.toSet()).containsAll(eventOfPayment.keySet()),
                        Duration.ofSeconds(30));
                Set<String> seen = new HashSet<>();
                for (ConsumerRecord<String, String> rec : records) {
                    if (!seen.add(eventId(rec.value()))) {
                        duplicates++;
                    }
                }
                onKafka = (int) seen.stream().filter(eventOfPayment::containsKey).count();
                Set<String> absent = new TreeSet<>(eventOfPayment.keySet());
                absent.removeAll(seen);
                if (!absent.isEmpty()) {
                    problems.add(absent.size() + " payment events not on Kafka topic " + kafka.paymentTopic() + ": " + first(absent));
                }
            }
            return new Result(paid.size(), payments.size(), refundedPayments.size(), events, notifications, onKafka, duplicates,
                    notifiedAfter, problems);
        }
    }

    private static String eventId(String json) {
        int at = json.indexOf("\"eventId\"");
        if (at < 0) {
            return "";
        }
        int open = json.indexOf('"', json.indexOf(':', at) + 1);
        return json.substring(open + 1, json.indexOf('"', open + 1));
    }

    private static void none(List<String> problems, String what, List<String> found) {
        if (!found.isEmpty()) {
            problems.add(what + ": " + first(found));
        }
    }

    private static <T> void same(List<String> problems, String what, Set<T> stored, Set<T> told) {
        Set<T> onlyStored = new HashSet<>(stored);
        onlyStored.removeAll(told);
        Set<T> onlyTold = new HashSet<>(told);
        onlyTold.removeAll(stored);
        if (!onlyStored.isEmpty() || !onlyTold.isEmpty()) {
            problems.add(what + ": stored but not told " + first(onlyStored) + ", told but not stored " + first(onlyTold));
        }
    }

    private static void oneEach(List<String> problems, String what, Map<Long, Long> countByPayment, List<Long> payments) {
        Set<Long> missing = new HashSet<>(payments);
        missing.removeAll(countByPayment.keySet());
        List<Long> notOnce = countByPayment.entrySet().stream().filter(e -> e.getValue() != 1).map(Map.Entry::getKey).toList();
        Set<Long> extra = new HashSet<>(countByPayment.keySet());
        payments.forEach(extra::remove);
        if (!missing.isEmpty() || !notOnce.isEmpty() || !extra.isEmpty()) {
            problems.add(what + ": missing for payments " + first(missing) + ", more than one for " + first(notOnce)
                    + ", for unknown payments " + first(extra));
        }
    }

    private static String first(Collection<?> values) {
        return values.size() <= 10 ? values.toString() : values.stream().limit(10).toList() + " and " + (values.size() - 10) + " more";
    }

    static Map<Long, Long> countByPayment(Statement s, String type, String users) throws SQLException {
        Map<Long, Long> counts = new HashMap<>();
        try (ResultSet r = s.executeQuery("SELECT CAST(JSON_VALUE(payload, '$.paymentId') AS INTEGER) AS p, COUNT(*) FROM outbox "
                + "WHERE event_type = '" + type + "' AND CAST(JSON_VALUE(payload, '$.userId') AS INTEGER) IN (" + users + ") GROUP BY p")) {
            while (r.next()) {
                counts.put(r.getLong(1), r.getLong(2));
            }
        }
        return counts;
    }

    public static List<String> rows(Statement s, String sql) throws SQLException {
        return column(s, sql, r -> r.getString(1));
    }

    public static List<Long> longs(Statement s, String sql) throws SQLException {
        return column(s, sql, r -> r.getLong(1));
    }

    interface Column<T> {
        T read(ResultSet r) throws SQLException;
    }

    private static <T> List<T> column(Statement s, String sql, Column<T> column) throws SQLException {
        List<T> out = new ArrayList<>();
        try (ResultSet r = s.executeQuery(sql)) {
            while (r.next()) {
                out.add(column.read(r));
            }
        }
        return out;
    }

    public static long count(Statement s, String sql) throws SQLException {
        try (ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }
}
