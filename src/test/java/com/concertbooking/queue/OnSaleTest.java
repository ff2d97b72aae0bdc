package com.concertbooking.queue;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.concertbooking.catalog.CatalogStore;
import com.concertbooking.events.KafkaTestClients;
import com.concertbooking.wallet.WalletStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.transaction.ReactiveTransactionManager;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SPEC 14 and issue 17 on real Redis, MariaDB and Kafka: a scheduled sale's pre-queue, the draw (checked against an
 * HMAC computed here, independently of the service's code), the opening decided by Redis time, exactly one opening
 * across instances, the pre-queue kept through the wait, and the 409s and stream events the SPEC names.
 */
class OnSaleTest extends QueueTestSupport {

    private static final ParameterizedTypeReference<ServerSentEvent<Map<String, Object>>> EVENT = new ParameterizedTypeReference<>() {};
    private static final Duration WAIT = Duration.ofSeconds(10);
    /** A LuaScript, not RedisScript.of: DefaultRedisScript locks on every getSha1(), which parks the event loops this test races on. */
    private static final RedisScript<Long> TIME = new com.concertbooking.support.LuaScript<>(
            "local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)", Long.class);

    @Autowired
    QueueProperties properties;

    @Autowired
    SaleProperties saleProperties;

    @Autowired
    QueuePolicies policies;

    @org.springframework.beans.factory.annotation.Value("${booking.events.topic-prefix}")
    String topicPrefix;

    @Autowired
    TokenCodec tokens;

    @Autowired
    QueueIds queueIds;

    @Autowired
    CatalogStore catalog;

    @Autowired
    WalletStore wallets;

    @Autowired
    ReactiveTransactionManager transactions;

    @Autowired
    com.concertbooking.events.OutboxWriter outbox;

    @org.springframework.beans.factory.annotation.Value("${booking.kafka.bootstrap-servers}")
    String bootstrap;

    // ------------------------------------------------------------------------------------------ helpers

    /** Redis TIME (ms) on the node of this concert's queue: the clock the service decides by. */
    private Instant redisNow(long concertId) {
        return Instant.ofEpochMilli(redis.execute(TIME, List.of(QueueStore.key(concertId, "sale")), List.of()).blockLast(WAIT));
    }

    /** A concert with one 20-seat date on sale from {@code opensAt}, its pre-queue open from {@code prequeueOpensAt}. */
    private long saleConcert(Instant prequeueOpensAt, Instant opensAt) {
        Map<String, Object> date = Map.of("startsAt", Instant.now().plus(Duration.ofDays(30)).truncatedTo(ChronoUnit.SECONDS).toString(),
                "venue", unique("Hall"), "seats", List.of(Map.of("grade", "R", "price", 100_000, "count", 20)));
        Map<String, Object> sale = new java.util.HashMap<>();
        sale.put("opensAt", opensAt.truncatedTo(ChronoUnit.MILLIS).toString());
        if (prequeueOpensAt != null) {
            sale.put("prequeueOpensAt", prequeueOpensAt.truncatedTo(ChronoUnit.MILLIS).toString());
        }
        Map<?, ?> body = asAdmin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", unique("On sale"), "dates", List.of(date), "sale", sale))
                .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        long concertId = num(body.get("concertId"));
        touched(concertId);
        return concertId;
    }

    private void touched(long concertId) {
        policy(concertId, Map.of("admitPerTick", 0, "maxActive", 5000)); // paused: positions stay put while we read them
    }

    private Map<?, ?> sale(long concertId) {
        return web.get().uri("/api/v1/concerts/{id}/sale", concertId).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    private void awaitRevealed(long concertId) {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> sale(concertId).get("seed") != null);
    }

    /** HMAC-SHA256(seed bytes, user id in ASCII decimal), written here without the service's code. */
    private static String hmac(String seedHex, long userId) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(HexFormat.of().parseHex(seedHex), "HmacSHA256"));
        return HexFormat.of().formatHex(mac.doFinal(Long.toString(userId).getBytes(StandardCharsets.US_ASCII)));
    }

    private static String sha256(String seedHex) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(HexFormat.of().parseHex(seedHex)));
    }

    private List<Long> expectedOrder(String seed, List<Long> users) throws Exception {
        Map<Long, String> keys = new java.util.HashMap<>();
        for (long u : users) {
            keys.put(u, hmac(seed, u));
        }
        List<Long> order = new ArrayList<>(users);
        order.sort(Comparator.comparing(u -> new java.math.BigInteger(1, HexFormat.of().parseHex(keys.get(u)))));
        return order;
    }

    /** Runs bin/verify-draw against this service with the cohort's user ids on standard input; its output. */
    private String verifyDraw(long concert, List<Long> users) throws Exception {
        Process p = new ProcessBuilder("python3", "bin/verify-draw", "--url", "http://127.0.0.1:" + port, "--concert",
                Long.toString(concert), "--users", "-").redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write(users.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining("\n")).getBytes(StandardCharsets.US_ASCII));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    private static String expectedLines(String seed, List<Long> order) throws Exception {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < order.size(); i++) {
            lines.append(i + 1).append('\t').append(order.get(i)).append('\t').append(hmac(seed, order.get(i))).append('\n');
        }
        return lines.toString();
    }

    /**
     * A racing client whose JSON decoding is warmed by one request first: Jackson builds a type's deserializer under a
     * lock on first use (per client), and racing event loops would meet there (BlockHound rightly objects).
     */
    private org.springframework.web.reactive.function.client.WebClient warmed(
            org.springframework.web.reactive.function.client.WebClient client, long concert) {
        client.get().uri("/api/v1/concerts/{id}/sale", concert).retrieve().bodyToMono(Map.class).block(WAIT);
        return client;
    }

    /** These users join at once (after one warm-up request on the same client). */
    private List<Map<?, ?>> joinInParallel(long concert, List<Long> users, int concurrency) {
        var client = warmed(racingClient(), concert);
        var bearers = bearers(users);
        return Flux.fromIterable(users)
                .flatMap(u -> client.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                        .header(org.springframework.http.HttpHeaders.AUTHORIZATION, bearers.get(u))
                        .bodyValue(Map.of("concertId", concert)).retrieve().bodyToMono(Map.class), concurrency)
                .<Map<?, ?>>map(m -> m).collectList().block(Duration.ofSeconds(60));
    }

    private Disposable stream(String token, List<ServerSentEvent<Map<String, Object>>> into) {
        return racingClient().get().uri("/api/v1/queues/stream?token={t}", token).retrieve().bodyToFlux(EVENT).subscribe(into::add);
    }

    private static List<ServerSentEvent<Map<String, Object>>> named(List<ServerSentEvent<Map<String, Object>>> all, String name) {
        return all.stream().filter(e -> name.equals(e.event())).toList();
    }

    // ------------------------------------------------------------------------------------------ schedule and pre-queue

    @Test
    void beforeThePrequeueNothingIsWrittenThenThePrequeueCountsDown() {
        Instant now = Instant.now();
        long concert = saleConcert(now.plusSeconds(3), now.plusSeconds(60));
        long fan = freshUserId();

        Map<?, ?> scheduled = sale(concert);
        assertThat(scheduled.get("state")).isEqualTo("SCHEDULED");
        assertThat(m(scheduled)).doesNotContainKeys("commitment", "seed", "cohortSize").containsKeys("serverTime", "opensAt", "prequeueOpensAt");

        // SALE_NOT_OPEN with the times, and nothing written for the fan.
        asUser(fan).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("concertId", concert))
                .exchange().expectStatus().isEqualTo(409)
                .expectBody().jsonPath("$.code").isEqualTo("SALE_NOT_OPEN")
                .jsonPath("$.opensAt").isEqualTo(scheduled.get("opensAt"))
                .jsonPath("$.prequeueOpensAt").isEqualTo(scheduled.get("prequeueOpensAt"))
                .jsonPath("$.serverTime").exists();
        assertThat(redis.opsForHash().size(QueueStore.key(concert, "entry")).block(WAIT)).isZero();
        assertThat(redis.opsForZSet().size(QueueStore.key(concert, "cohort")).block(WAIT)).isZero();
        assertThat(redis.opsForZSet().size(QueueStore.key(concert, "seen")).block(WAIT)).isZero();

        // The pre-queue opens (Redis time): the fan is registered without a position, with the countdown.
        await().atMost(WAIT).until(() -> asUser(fan).post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("concertId", concert)).exchange().returnResult(Void.class).getStatus().value() == 201);
        Map<?, ?> ticket = join(fan, concert);
        assertThat(ticket.get("status")).isEqualTo("PREQUEUE");
        assertThat(m(ticket)).doesNotContainKeys("position", "admission");
        assertThat(ticket.get("opensAt")).isEqualTo(scheduled.get("opensAt"));
        Instant serverTime = Instant.parse((String) ticket.get("serverTime"));
        assertThat(Duration.between(serverTime, redisNow(concert)).abs()).isLessThan(Duration.ofSeconds(5));
        assertThat((String) ticket.get("queueId")).matches("[0-9A-Z]{10}");
        assertThat(ticket.get("estimatedWaitSeconds")).isNull();
        // The commitment is published; the seed is not.
        Map<?, ?> prequeue = sale(concert);
        assertThat(prequeue.get("state")).isEqualTo("PREQUEUE");
        assertThat((String) prequeue.get("commitment")).matches("[0-9a-f]{64}").isEqualTo(ticket.get("commitment"));
        assertThat(m(prequeue)).doesNotContainKeys("seed", "cohortSize");
        String seed = sales.load(concert).block(WAIT).seed();
        assertThat(ticket.toString()).doesNotContain(seed);
        assertThat(statusBody((String) ticket.get("token")).toString()).doesNotContain(seed).contains("PREQUEUE");
        // Asking again keeps the registration; the pass is no admission.
        assertThat(join(fan, concert).get("token")).isEqualTo(ticket.get("token"));
        long date = num(((List<?>) web.get().uri("/api/v1/concerts/{id}/dates", concert).exchange().expectBody(Map.class)
                .returnResult().getResponseBody().get("dates")).stream().map(d -> ((Map<?, ?>) d).get("concertDateId")).findFirst().orElseThrow());
        withQueueToken((String) ticket.get("token")).get().uri("/api/v1/concerts/dates/{d}/seats", date).exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("TOKEN_NOT_ACTIVE");
    }

    /** The prequeue event with the countdown, then the opening: the same stream turns to positions in draw order. */
    @Test
    void theOrderAfterOpeningIsTheRecomputedHmacOrderAndTheCommitmentMatchesTheSeed() throws Exception {
        List<Long> cohort = freshUsers(60);
        Instant opens = Instant.now().plusSeconds(8).truncatedTo(ChronoUnit.MILLIS);
        long concert = saleConcert(Instant.now().minusSeconds(1), opens);
        List<Map<?, ?>> joined = joinInParallel(concert, cohort, 16);
        assertThat(joined).allSatisfy(t -> assertThat(t.get("status")).isEqualTo("PREQUEUE"));
        assertThat(redisNow(concert)).as("the cohort joined before the opening").isBefore(opens);
        Map<Long, String> tokenOf = new java.util.HashMap<>();
        joined.forEach(t -> tokenOf.put(num(t.get("userId")), (String) t.get("token")));
        String commitment = (String) sale(concert).get("commitment");

        // Streams of a few members: the countdown now, positions from the opening on.
        List<Long> watched = cohort.subList(0, 5);
        Map<Long, List<ServerSentEvent<Map<String, Object>>>> streams = new java.util.HashMap<>();
        List<Disposable> open = new ArrayList<>();
        for (long u : watched) {
            List<ServerSentEvent<Map<String, Object>>> events = new CopyOnWriteArrayList<>();
            streams.put(u, events);
            open.add(stream(tokenOf.get(u), events));
        }
        try {
            await().atMost(WAIT).until(() -> streams.values().stream().allMatch(e -> !named(e, "prequeue").isEmpty()));
            Map<String, Object> countdown = named(streams.get(watched.get(0)), "prequeue").get(0).data();
            assertThat(countdown).containsEntry("status", "PREQUEUE").containsEntry("commitment", commitment).containsKey("serverTime");
            assertThat(Instant.parse((String) countdown.get("opensAt"))).isEqualTo(opens.truncatedTo(ChronoUnit.MILLIS));

            // Late joiners, after the opening: behind the whole cohort, in arrival order.
            await().atMost(Duration.ofSeconds(20)).until(() -> !redisNow(concert).isBefore(opens));
            List<Long> late = freshUsers(3);
            List<Map<?, ?>> lateTickets = new ArrayList<>();
            for (long u : late) {
                lateTickets.add(join(u, concert));
            }
            assertThat(lateTickets).allSatisfy(t -> assertThat(t.get("status")).isEqualTo("WAITING"));

            awaitRevealed(concert);
            Map<?, ?> revealed = sale(concert);
            String seed = (String) revealed.get("seed");
            assertThat(revealed.get("state")).isEqualTo("OPEN");
            assertThat(sha256(seed)).isEqualTo(commitment).isEqualTo(revealed.get("commitment"));
            assertThat(num(revealed.get("cohortSize"))).isEqualTo(cohort.size());

            List<Long> expected = expectedOrder(seed, cohort);
            // bin/verify-draw, as anyone would run it against the service: commitment and order agree.
            assertThat(verifyDraw(concert, cohort)).startsWith("commitment MATCHES").contains(expectedLines(seed, expected));
            for (int i = 0; i < expected.size(); i++) {
                Map<?, ?> status = statusBody(tokenOf.get(expected.get(i)));
                assertThat(status.get("status")).isEqualTo("WAITING");
                assertThat(num(status.get("position"))).as("user %d", expected.get(i)).isEqualTo(i + 1);
            }
            for (int i = 0; i < late.size(); i++) {
                assertThat(num(statusBody((String) lateTickets.get(i).get("token")).get("position"))).isEqualTo(cohort.size() + i + 1);
            }
            // Every watched stream got its place in the draw, pushed (not only the 3 s keep-alive).
            await().atMost(WAIT).untilAsserted(() -> {
                for (long u : watched) {
                    List<ServerSentEvent<Map<String, Object>>> positions = named(streams.get(u), "position");
                    assertThat(positions).as("user %d", u).isNotEmpty();
                    assertThat(num(positions.get(0).data().get("position"))).isEqualTo(expected.indexOf(u) + 1);
                }
            });

            // Admission starts with the draw's front.
            policy(concert, Map.of("admitPerTick", 5, "maxActive", 5000));
            await().atMost(WAIT).until(() -> "ACTIVE".equals(statusBody(tokenOf.get(expected.get(4))).get("status")));
            List<String> firstActive = redis.opsForZSet().range(QueueStore.key(concert, "active"),
                    org.springframework.data.domain.Range.unbounded()).collectList().block(WAIT);
            assertThat(firstActive.subList(0, 5).stream().map(Long::parseLong).sorted().toList())
                    .isEqualTo(expected.subList(0, 5).stream().sorted().toList());
        } finally {
            open.forEach(Disposable::dispose);
        }

        // booking.sale.opened, once, through the outbox to Kafka: commitment, seed and cohort size.
        String topic = topicPrefix + "booking.sale.opened";
        List<ConsumerRecord<String, String>> records = KafkaTestClients.read(bootstrap, topic, r -> r.key().equals(Long.toString(concert)),
                found -> !found.isEmpty(), Duration.ofSeconds(30));
        assertThat(records).hasSize(1);
        assertThat(records.get(0).value()).contains("\"type\":\"sale-opened\"", "\"seed\":\"" + sales.load(concert).block(WAIT).seed() + "\"",
                "\"commitment\":\"" + commitment + "\"", "\"cohortSize\":60");
    }

    /** Each join is classified by Redis time at the moment its script runs; instance clocks play no part. */
    @Test
    void joinsRacingTheOpeningAreClassifiedByRedisTime() {
        List<Long> users = freshUsers(120);
        var bearers = bearers(users);
        Instant opens = Instant.now().plusSeconds(5).truncatedTo(ChronoUnit.MILLIS);
        long concert = saleConcert(Instant.now().minusSeconds(1), opens);
        // Instances whose own clocks are an hour off either way: their joins are classified like everyone's.
        QueueService ahead = new QueueService(store(), tokens, queueIds, sales, waits, catalog, wallets,
                Clock.offset(Clock.systemUTC(), Duration.ofHours(1)));
        QueueService behind = new QueueService(store(), tokens, queueIds, sales, waits, catalog, wallets,
                Clock.offset(Clock.systemUTC(), Duration.ofHours(-1)));
        assertThat(ahead.issue(freshUserId(), concert).block(WAIT).ticket().status()).isEqualTo("PREQUEUE");

        record Attempt(long user, Instant before, Instant after, Map<?, ?> ticket) {}
        var client = warmed(racingClient(), concert);
        ConcurrentLinkedQueue<Attempt> attempts = new ConcurrentLinkedQueue<>();
        // Three waves of 40 around the opening, each request bracketed by Redis TIME.
        Instant start = opens.minusMillis(1500);
        await().atMost(WAIT).until(() -> !redisNow(concert).isBefore(start));
        Flux.range(0, users.size())
                .delayUntil(i -> i % 40 == 0 && i > 0 ? reactor.core.publisher.Mono.delay(Duration.ofMillis(1000)) : reactor.core.publisher.Mono.empty())
                .flatMap(i -> {
                    long u = users.get(i);
                    return redis.execute(TIME, List.of(QueueStore.key(concert, "sale")), List.of()).next()
                            .flatMap(before -> client.post().uri("/api/v1/queues/token").contentType(MediaType.APPLICATION_JSON)
                                    .header(org.springframework.http.HttpHeaders.AUTHORIZATION, bearers.get(u))
                                    .bodyValue(Map.of("concertId", concert)).retrieve().bodyToMono(Map.class)
                                    .flatMap(t -> redis.execute(TIME, List.of(QueueStore.key(concert, "sale")), List.of()).next()
                                            .map(after -> new Attempt(u, Instant.ofEpochMilli(before), Instant.ofEpochMilli(after), t))));
                }, 40)
                .doOnNext(attempts::add)
                .then().block(Duration.ofSeconds(60));
        assertThat(behind.issue(freshUserId(), concert).block(WAIT).ticket().status()).isEqualTo("WAITING");

        assertThat(attempts).hasSize(users.size());
        int cohort = 0;
        int lateJoins = 0;
        for (Attempt a : attempts) {
            String status = (String) a.ticket().get("status");
            if (a.after().isBefore(opens)) {
                assertThat(status).as("joined wholly before the opening").isEqualTo("PREQUEUE");
            }
            if (!a.before().isBefore(opens)) {
                assertThat(status).as("joined wholly after the opening").isEqualTo("WAITING");
            }
            if (status.equals("PREQUEUE")) {
                cohort++;
            } else {
                lateJoins++;
            }
        }
        assertThat(cohort).as("the waves straddle the opening").isPositive();
        assertThat(lateJoins).isPositive();

        // After the opening: the cohort (and the early instance's fan) first, then the arrivals, in arrival order.
        awaitRevealed(concert);
        assertThat(num(sale(concert).get("cohortSize"))).isEqualTo(cohort + 1);
        List<Attempt> arrivals = attempts.stream().filter(a -> a.ticket().get("status").equals("WAITING"))
                .sorted(Comparator.comparing(a -> num(a.ticket().get("position")))).toList();
        long previous = cohort + 1;
        for (Attempt a : arrivals) {
            long position = num(statusBody((String) a.ticket().get("token")).get("position"));
            assertThat(position).isGreaterThan(previous);
            previous = position;
        }
        for (Attempt a : attempts) {
            if (a.ticket().get("status").equals("PREQUEUE")) {
                assertThat(num(statusBody((String) a.ticket().get("token")).get("position"))).isBetween(1L, (long) cohort + 1);
            }
        }
    }

    /** A store as another instance would have it: its own Redis connection and its own copy of the sales' caches. */
    private QueueStore store() {
        return store(anotherConnection(), sales);
    }

    private QueueStore store(LettuceConnectionFactory connections, Sales sales) {
        return new QueueStore(new ReactiveStringRedisTemplate(connections), policies, sales, properties);
    }

    /** Two instances (their own Redis connections, caches and schedulers) race the draw and the opening: one of each. */
    @Test
    void twoInstancesOneDrawAndOneOpening() {
        Instant opens = Instant.now().plusSeconds(4);
        long concert = saleConcert(Instant.now().minusSeconds(1), opens);
        Sales salesA = new Sales(database, transactions, outbox, Clock.systemUTC(), saleProperties);
        Sales salesB = new Sales(database, transactions, outbox, Clock.systemUTC(), saleProperties);
        QueueStore a = store(anotherConnection(), salesA);
        QueueStore b = store(anotherConnection(), salesB);
        var seeds = Flux.range(0, 20).flatMap(i -> (i % 2 == 0 ? salesA : salesB).draw(concert), 20).collectList().block(WAIT);
        assertThat(seeds).hasSize(20).extracting(Sales.Drawn::seed).containsOnly(seeds.get(0).seed());

        // The cohort joins through both instances (so each ticks this concert; the application itself never saw it).
        List<Long> users = freshUsers(40);
        String seed = seeds.get(0).seed();
        Flux.fromIterable(users).flatMap(u -> (u % 2 == 0 ? a : b).join(concert, u, QueueService.entryId(System.currentTimeMillis()),
                Draw.digest(seed, u), false), 8).collectList().block(WAIT)
                .forEach(o -> assertThat(((QueueStore.Joined) o).state().kind()).isEqualTo(QueueStore.Kind.PREQUEUE));

        var metrics = new QueueMetrics(new SimpleMeterRegistry());
        QueueService serviceA = new QueueService(a, tokens, queueIds, salesA, waits, catalog, wallets, Clock.systemUTC());
        QueueService serviceB = new QueueService(b, tokens, queueIds, salesB, waits, catalog, wallets, Clock.systemUTC());
        AdmissionScheduler schedulerA = new AdmissionScheduler(a, serviceA, salesA, new WaitEstimates(Clock.systemUTC(), properties), metrics, properties);
        AdmissionScheduler schedulerB = new AdmissionScheduler(b, serviceB, salesB, new WaitEstimates(Clock.systemUTC(), properties), metrics, properties);
        ConcurrentLinkedQueue<QueueStore.TickResult> results = new ConcurrentLinkedQueue<>();
        Disposable runA = Flux.interval(Duration.ofMillis(7)).onBackpressureDrop().concatMap(i -> schedulerA.tickAll())
                .subscribe(rs -> rs.stream().filter(r -> r.concertId() == concert).forEach(results::add));
        Disposable runB = Flux.interval(Duration.ofMillis(5)).onBackpressureDrop().concatMap(i -> schedulerB.tickAll())
                .subscribe(rs -> rs.stream().filter(r -> r.concertId() == concert).forEach(results::add));
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> salesA.load(concert).block(WAIT).openedAt() != null);
            Thread.sleep(1500); // both keep racing well past the opening
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            runA.dispose();
            runB.dispose();
        }
        assertThat(results.stream().filter(QueueStore.TickResult::opened).count()).as("steps that opened the sale").isEqualTo(1);
        assertThat(results.stream().filter(r -> !r.open()).map(QueueStore.TickResult::cohortSize).distinct().toList()).containsOnly(-1L);
        assertThat(results.stream().filter(QueueStore.TickResult::open).map(QueueStore.TickResult::cohortSize).distinct().toList())
                .containsExactly((long) users.size());
        Sales.Sale sale = salesA.load(concert).block(WAIT);
        assertThat(sale.seed()).isEqualTo(seed);
        assertThat(sale.cohortSize()).isEqualTo(users.size());
        assertThat(database.sql("SELECT COUNT(*) AS n FROM outbox WHERE event_type = 'sale-opened' AND message_key = :k")
                .bind("k", Long.toString(concert)).map(r -> r.get("n", Long.class)).one().block(WAIT)).isEqualTo(1);
    }

    /** SPEC 14: a pre-queue member idle longer than the waiting timeout before the opening keeps the place. */
    @Test
    void anIdlePrequeueMemberKeepsThePlaceUntilTheOpeningPlusTheWaitingTimeout() {
        Instant opens = Instant.now().plusSeconds(14);
        long concert = saleConcert(Instant.now().minusSeconds(1), opens);
        policy(concert, Map.of("admitPerTick", 0, "maxActive", 5000, "waitingTimeoutSeconds", 5));
        long keeper = freshUserId();
        long sleeper = freshUserId();
        String keeperToken = token(keeper, concert);
        String sleeperToken = token(sleeper, concert);
        // Nobody polls for about twice the timeout; the pre-queue is swept meanwhile (ticks run, the concert is live).
        await().atMost(Duration.ofSeconds(20)).until(() -> !redisNow(concert).isBefore(opens.plusMillis(500)));
        assertThat(num(queueView(concert).get("waiting"))).isEqualTo(2);
        Map<?, ?> kept = statusBody(keeperToken);
        assertThat(kept.get("status")).isEqualTo("WAITING");
        assertThat(num(kept.get("position"))).isBetween(1L, 2L);
        // The timeout counts from the opening: whoever does not come back within it is dropped then.
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500)).until(() -> {
            statusBody(keeperToken); // the keeper stays present
            return num(queueView(concert).get("waiting")) == 1;
        });
        status(sleeperToken).expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");
        assertThat(num(statusBody(keeperToken).get("position"))).isEqualTo(1);
    }

    /** The operator moves a schedule until the opening, never after; bad times are 400. */
    @Test
    void theScheduleMovesUntilTheOpeningOnly() {
        Instant opens = Instant.now().plusSeconds(120).truncatedTo(ChronoUnit.MILLIS);
        long concert = saleConcert(null, opens);
        Map<?, ?> created = sale(concert);
        assertThat(Instant.parse((String) created.get("prequeueOpensAt"))).isEqualTo(opens.minus(Duration.ofMinutes(30)));

        Instant later = opens.plusSeconds(60).truncatedTo(ChronoUnit.SECONDS);
        asAdmin().put().uri("/api/v1/admin/concerts/{id}/sale", concert).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("opensAt", later.toString(), "prequeueOpensAt", later.minusSeconds(30).toString()))
                .exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.opensAt").isEqualTo(later.toString()).jsonPath("$.state").isEqualTo("SCHEDULED");
        assertThat(redis.opsForHash().get(QueueStore.key(concert, "sale"), "opens").block(WAIT)).isEqualTo(Long.toString(later.toEpochMilli()));
        for (Map<String, Object> bad : List.of(Map.<String, Object>of("opensAt", later.toString(), "prequeueOpensAt", later.toString()),
                Map.<String, Object>of("opensAt", Instant.now().plusSeconds(2).toString()),
                Map.<String, Object>of("opensAt", "tomorrow"),
                Map.<String, Object>of("prequeueOpensAt", later.toString()))) {
            asAdmin().put().uri("/api/v1/admin/concerts/{id}/sale", concert).contentType(MediaType.APPLICATION_JSON).bodyValue(bad)
                    .exchange().expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        web.put().uri("/api/v1/admin/concerts/{id}/sale", concert).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("opensAt", later.toString())).exchange().expectStatus().isUnauthorized();

        // Brought forward to open in seconds: once open, the times stay.
        Instant soon = Instant.now().plusSeconds(8).truncatedTo(ChronoUnit.SECONDS);
        asAdmin().put().uri("/api/v1/admin/concerts/{id}/sale", concert).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("opensAt", soon.toString(), "prequeueOpensAt", soon.minusSeconds(60).toString()))
                .exchange().expectStatus().isOk().expectBody().jsonPath("$.state").isEqualTo("PREQUEUE");
        token(freshUserId(), concert); // the concert's queue is live, so its opening step runs
        awaitRevealed(concert);
        asAdmin().put().uri("/api/v1/admin/concerts/{id}/sale", concert).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("opensAt", later.plusSeconds(600).toString()))
                .exchange().expectStatus().isEqualTo(409).expectBody().jsonPath("$.code").isEqualTo("SALE_ALREADY_OPEN");
        // A concert created without a schedule was on sale from the start.
        long plain = newConcert();
        asAdmin().put().uri("/api/v1/admin/concerts/{id}/sale", plain).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("opensAt", later.toString())).exchange().expectStatus().isEqualTo(409)
                .expectBody().jsonPath("$.code").isEqualTo("SALE_ALREADY_OPEN");
        assertThat(m(sale(plain))).containsEntry("state", "OPEN").doesNotContainKeys("opensAt", "commitment");
        web.get().uri("/api/v1/concerts/{id}/sale", 987_654_321).exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.code").isEqualTo("CONCERT_NOT_FOUND");
        // Creation checks the schedule too.
        Map<String, Object> date = Map.of("startsAt", Instant.now().plus(Duration.ofDays(3)).truncatedTo(ChronoUnit.SECONDS).toString(),
                "venue", "Hall", "seats", List.of(Map.of("grade", "R", "price", 1, "count", 1)));
        for (Map<String, Object> bad : List.of(Map.<String, Object>of("opensAt", Instant.now().minusSeconds(5).toString()),
                Map.<String, Object>of("opensAt", later.toString(), "prequeueOpensAt", later.plusSeconds(1).toString()))) {
            asAdmin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("name", "x", "dates", List.of(date), "sale", bad))
                    .exchange().expectStatus().isBadRequest().expectBody().jsonPath("$.code").isEqualTo("VALIDATION_FAILED");
        }
        asAdmin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "x", "dates", List.of(date), "maxTicketsPerUser", 0))
                .exchange().expectStatus().isBadRequest();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> m(Map<?, ?> body) {
        return (Map<String, Object>) body;
    }
}
