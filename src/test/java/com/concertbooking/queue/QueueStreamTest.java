package com.concertbooking.queue;

import com.concertbooking.auth.QueuePass;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** GET /api/v1/queues/stream: on the service's Flux, through WebClient, and on the wire. */
class QueueStreamTest extends QueueTestSupport {

    private static final ParameterizedTypeReference<ServerSentEvent<Map<String, Object>>> EVENT = new ParameterizedTypeReference<>() {};

    @Autowired
    QueueService queue;

    @Autowired
    QueueStreams streams;

    @Autowired
    org.springframework.context.ApplicationContext context;

    @Test
    void serviceFluxShowsPositionUpdatesAfterAdmitsThenActiveAndCompletes() {
        long concert = newConcert();
        pause(concert);
        token(freshUserId(), concert);
        token(freshUserId(), concert);
        String third = token(freshUserId(), concert);
        var verified = queue.verify(third).block();
        // Keep-alive repeats of an unchanged position may interleave with slow steps; the sequence of changes is the subject.
        // Observed on a test thread: the steps below block (admin calls), and events arrive on Redis I/O threads,
        // which a blocking step would stall (with them, the very Redis replies the admin call waits for).
        Flux<ServerSentEvent<Object>> events = streams.stream(verified)
                .publishOn(reactor.core.scheduler.Schedulers.boundedElastic())
                .filter(e -> e.event() != null)
                .distinctUntilChanged(e -> e.event() + e.data());
        StepVerifier.create(events)
                .assertNext(e -> assertPosition(e, 3))
                .then(() -> admit(concert, 1))
                .assertNext(e -> assertPosition(e, 2))
                .then(() -> admit(concert, 1))
                .assertNext(e -> assertPosition(e, 1))
                .then(() -> admit(concert, 1))
                .assertNext(e -> {
                    assertThat(e.event()).isEqualTo("active");
                    var active = (QueueStreams.ActiveEvent) e.data();
                    assertThat(active.status()).isEqualTo("ACTIVE");
                    assertThat(active.activeUntil()).isAfter(java.time.Instant.now());
                })
                .expectComplete()
                .verify(Duration.ofSeconds(20));
    }

    private static void assertPosition(ServerSentEvent<Object> e, long position) {
        assertThat(e.event()).isEqualTo("position");
        var p = (QueueStreams.PositionEvent) e.data();
        assertThat(p.status()).isEqualTo("WAITING");
        assertThat(p.position()).isEqualTo(position);
    }

    @Test
    void keepAlivePositionsArriveWithoutChangesAndNeverMoveBack() {
        long concert = newConcert();
        pause(concert);
        token(freshUserId(), concert);
        String second = token(freshUserId(), concert);
        List<ServerSentEvent<Map<String, Object>>> events = new CopyOnWriteArrayList<>();
        Disposable d = racingClient().get().uri("/api/v1/queues/stream")
                .header(QueuePass.HEADER, second) // the header works as well as ?token=
                .retrieve().bodyToFlux(EVENT).subscribe(events::add);
        try {
            // Nothing changes, yet a position event must come at least every 5 s, and heartbeat comments flow.
            await().atMost(Duration.ofSeconds(9)).until(() -> events.stream().filter(e -> "position".equals(e.event())).count() >= 3);
            await().atMost(Duration.ofSeconds(12)).until(() -> events.stream().anyMatch(e -> e.event() == null && e.comment() != null));
            assertThat(events.stream().filter(e -> "position".equals(e.event())).map(e -> e.data().get("position")).distinct().toList())
                    .containsExactly(2);
            long positions = events.stream().filter(e -> "position".equals(e.event())).count();
            assertThat(positions).as("keep-alive positions over the time waited").isGreaterThanOrEqualTo(3);
        } finally {
            d.dispose();
        }
    }

    /** The wire format, read by a plain HTTP client line by line. */
    @Test
    void wireFormatOverPlainHttp() throws Exception {
        long concert = newConcert();
        pause(concert);
        token(freshUserId(), concert);
        String mine = token(freshUserId(), concert);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/queues/stream?token=" + mine))
                .header("Accept", "text/event-stream").timeout(Duration.ofSeconds(30)).GET().build();
        HttpResponse<java.io.InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        // Its own headers, and the security headers of every answer (its security chain keeps only their writer).
        assertThat(response.headers().firstValue("Cache-Control")).hasValue("no-store");
        assertThat(response.headers().firstValue("X-Accel-Buffering")).hasValue("no");
        assertThat(response.headers().firstValue("Content-Security-Policy").orElse("")).startsWith("default-src 'self';");
        assertThat(response.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
        assertThat(response.headers().firstValue("X-Frame-Options")).hasValue("DENY");
        assertThat(response.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
        List<String> lines = new ArrayList<>();
        try (var reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            List<String> first = readEvent(reader, lines);
            assertThat(first).containsExactly("event:position",
                    "data:{\"status\":\"WAITING\",\"position\":2,\"admission\":\"PAUSED\",\"estimatedWaitSeconds\":null}");
            admit(concert, 1);
            List<String> next = nextNamed(reader, lines);
            assertThat(next).containsExactly("event:position",
                    "data:{\"status\":\"WAITING\",\"position\":1,\"admission\":\"PAUSED\",\"estimatedWaitSeconds\":null}");
            admit(concert, 1);
            List<String> active = nextNamed(reader, lines);
            assertThat(active.get(0)).isEqualTo("event:active");
            assertThat(active.get(1)).matches("data:\\{\"status\":\"ACTIVE\",\"activeUntil\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z\"}");
            assertThat(reader.readLine()).as("the stream ends after active").isNull();
        }
    }

    /** One event: its lines up to the blank line that ends it. */
    private static List<String> readEvent(BufferedReader reader, List<String> log) throws java.io.IOException {
        List<String> event = new ArrayList<>();
        for (String line; (line = reader.readLine()) != null; ) {
            log.add(line);
            if (line.isEmpty()) {
                if (!event.isEmpty()) {
                    return event;
                }
                continue;
            }
            event.add(line);
        }
        throw new AssertionError("stream ended early; read: " + log);
    }

    /** The next event that is not a heartbeat comment nor a keep-alive repeat of the same data. */
    private static List<String> nextNamed(BufferedReader reader, List<String> log) throws java.io.IOException {
        String previous = log.stream().filter(l -> l.startsWith("data:")).reduce((a, b) -> b).orElse("");
        while (true) {
            List<String> event = readEvent(reader, log);
            if (event.get(0).startsWith(":") || event.contains(previous)) {
                continue;
            }
            return event;
        }
    }

    /**
     * The stream's handler is called by {@link QueueStreamAdapter}, not by the annotated-handler invocation (whose
     * per-request state an open stream would keep), after the same mapping, with its parameters read as Spring's
     * binding reads them.
     */
    @Test
    void theStreamHandlerIsCalledByItsOwnAdapterWithTheParametersSpringWouldBind() {
        var mapping = context.getBean("requestMappingHandlerMapping", org.springframework.web.reactive.HandlerMapping.class);
        Object streamHandler = mapping.getHandler(org.springframework.mock.web.server.MockServerWebExchange.from(
                org.springframework.mock.http.server.reactive.MockServerHttpRequest.get("/api/v1/queues/stream"))).block();
        Object statusHandler = mapping.getHandler(org.springframework.mock.web.server.MockServerWebExchange.from(
                org.springframework.mock.http.server.reactive.MockServerHttpRequest.get("/api/v1/queues/status"))).block();
        List<org.springframework.web.reactive.HandlerAdapter> adapters =
                new ArrayList<>(context.getBeansOfType(org.springframework.web.reactive.HandlerAdapter.class).values());
        org.springframework.core.annotation.AnnotationAwareOrderComparator.sort(adapters);
        assertThat(adapters.stream().filter(a -> a.supports(streamHandler)).findFirst()).containsInstanceOf(QueueStreamAdapter.class);
        assertThat(adapters.stream().filter(a -> a.supports(statusHandler)).findFirst()).get().isNotInstanceOf(QueueStreamAdapter.class);

        assertThat(QueueStreamAdapter.single(null)).isNull();
        assertThat(QueueStreamAdapter.single(List.of("a"))).isEqualTo("a");
        assertThat(QueueStreamAdapter.single(List.of("a", ""))).isEqualTo("a,");
        long concert = newConcert();
        pause(concert);
        String mine = token(freshUserId(), concert);
        // Sent twice, a token is its two values joined, which no token is: refused, never "the first one".
        web.get().uri("/api/v1/queues/stream?token={t}&token={t}", mine, mine).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_INVALID");
        // The header comes first.
        List<ServerSentEvent<Map<String, Object>>> events = racingClient().get().uri("/api/v1/queues/stream?token=garbage")
                .header(QueuePass.HEADER, mine).retrieve().bodyToFlux(EVENT).take(1).collectList().block(Duration.ofSeconds(10));
        assertThat(events).singleElement().satisfies(e -> assertThat(e.event()).isEqualTo("position"));
        web.get().uri("/api/v1/queues/stream?token={t}", mine).header(QueuePass.HEADER, "garbage").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_INVALID");
        // Content negotiation and methods are still the mapping's: 406, and 405 with Allow.
        web.get().uri("/api/v1/queues/stream?token={t}", mine).accept(org.springframework.http.MediaType.APPLICATION_JSON).exchange()
                .expectStatus().isEqualTo(406).expectBody().jsonPath("$.code").isEqualTo("NOT_ACCEPTABLE");
        web.post().uri("/api/v1/queues/stream?token={t}", mine).exchange()
                .expectStatus().isEqualTo(405).expectHeader().valueEquals("Allow", "GET,HEAD");
    }

    @Test
    void streamOpeningRules() {
        long concert = newConcert();
        pause(concert);
        web.get().uri("/api/v1/queues/stream").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_MISSING");
        web.get().uri("/api/v1/queues/stream?token=garbage").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_INVALID");
        // ?token= is only for the stream: elsewhere only the header counts.
        String active = activeToken(freshUserId(), concert);
        asUser(userOf(active)).get().uri("/api/v1/queues/status?token={t}", active).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_MISSING");
        // Already active: one active event, then the stream completes.
        List<ServerSentEvent<Map<String, Object>>> events = racingClient().get().uri("/api/v1/queues/stream?token={t}", active)
                .retrieve().bodyToFlux(EVENT).collectList().block(Duration.ofSeconds(10));
        assertThat(events).hasSize(1);
        assertThat(events.get(0).event()).isEqualTo("active");
        assertThat(events.get(0).data().get("status")).isEqualTo("ACTIVE");
        withQueueToken(active).delete().uri("/api/v1/queues/token").exchange().expectStatus().isNoContent();
        web.get().uri("/api/v1/queues/stream?token={t}", active).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("TOKEN_EXPIRED");
    }

    @Test
    void leavingWhileStreamingSendsExpiredAndDisconnectReleasesTheStream() {
        long concert = newConcert();
        pause(concert);
        String leaving = token(freshUserId(), concert);
        String staying = token(freshUserId(), concert);
        int before = streams.openStreams();
        List<ServerSentEvent<Map<String, Object>>> leavingEvents = new CopyOnWriteArrayList<>();
        var done = new java.util.concurrent.atomic.AtomicBoolean();
        Disposable a = racingClient().get().uri("/api/v1/queues/stream?token={t}", leaving).retrieve().bodyToFlux(EVENT)
                .doOnComplete(() -> done.set(true)).subscribe(leavingEvents::add);
        Disposable b = racingClient().get().uri("/api/v1/queues/stream?token={t}", staying).retrieve().bodyToFlux(EVENT).subscribe();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> streams.openStreams() == before + 2);
            withQueueToken(leaving).delete().uri("/api/v1/queues/token").exchange().expectStatus().isNoContent();
            await().atMost(Duration.ofSeconds(10)).until(done::get);
            assertThat(leavingEvents.get(leavingEvents.size() - 1).event()).isEqualTo("expired");
            assertThat(streams.openStreams()).isEqualTo(before + 1);
        } finally {
            a.dispose();
            b.dispose(); // a client going away: the server side must let go of it
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> streams.openStreams() == before);
    }

    @Test
    void manyStreamsOfOneConcertAllFollowAnAdmission() {
        long concert = newConcert();
        pause(concert);
        int n = 300;
        var client = racingClient();
        List<String> tokens = joinAll(concert, freshUsers(n), 1).stream().map(m -> (String) m.get("token")).toList();
        Map<Integer, List<Long>> positions = new java.util.concurrent.ConcurrentHashMap<>();
        List<Disposable> open = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = i;
            positions.put(i, new CopyOnWriteArrayList<>());
            // Opening 300 at once on a busy shared machine can meet a Redis timeout (503 with Retry-After): retry like a client.
            open.add(client.get().uri("/api/v1/queues/stream?token={t}", tokens.get(i)).retrieve().bodyToFlux(EVENT)
                    .retryWhen(reactor.util.retry.Retry.backoff(5, Duration.ofMillis(500))
                            .filter(e -> e instanceof org.springframework.web.reactive.function.client.WebClientResponseException.ServiceUnavailable))
                    .filter(e -> "position".equals(e.event()))
                    .subscribe(e -> positions.get(index).add(((Number) e.data().get("position")).longValue())));
        }
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> positions.values().stream().noneMatch(List::isEmpty));
            admit(concert, 10);
            // Every stream still waiting learns its new place, 10 closer.
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                for (int i = 10; i < n; i++) {
                    assertThat(positions.get(i)).as("stream %d", i).contains((long) i + 1 - 10);
                }
            });
        } finally {
            open.forEach(Disposable::dispose);
        }
    }

    /** Opens a stream over plain HTTP; the caller reads or closes it. */
    private HttpResponse<java.io.InputStream> openPlain(String token) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/queues/stream?token=" + token))
                .header("Accept", "text/event-stream").timeout(Duration.ofSeconds(30)).GET().build();
        return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    }

    private static String firstLine(HttpResponse<java.io.InputStream> response) throws java.io.IOException {
        return new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8)).readLine();
    }

    /** Issue 9: at most max-streams-per-token (2) open streams per token, counted in Redis across instances. */
    @Test
    void aThirdStreamOfOneTokenIsTooManyUntilOneCloses() throws Exception {
        long concert = newConcert();
        pause(concert);
        String token = token(freshUserId(), concert);
        var first = openPlain(token);
        var second = openPlain(token);
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(firstLine(first)).isEqualTo("event:position");
        assertThat(firstLine(second)).isEqualTo("event:position");

        var third = openPlain(token);
        assertThat(third.statusCode()).isEqualTo(429);
        assertThat(third.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        assertThat(new String(third.body().readAllBytes(), StandardCharsets.UTF_8)).contains("\"code\":\"TOO_MANY_REQUESTS\"");
        assertThat(Long.parseLong(third.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 30L);
        // Another token of the same concert is not affected.
        assertThat(openPlainAndClose(token(freshUserId(), concert))).isEqualTo(200);

        // A client going away releases its stream at once.
        first.body().close();
        await().atMost(Duration.ofSeconds(10)).until(() -> openPlainAndClose(token) == 200);
        second.body().close();
    }

    /** A stream of an instance that died is counted until its lease runs out, then no longer. */
    @Test
    void aDeadInstancesStreamStopsCountingWhenItsLeaseEnds() throws Exception {
        long concert = newConcert();
        pause(concert);
        Map<?, ?> joined = join(freshUserId(), concert);
        String token = (String) joined.get("token");
        String entry = queue.verify(token).block(Duration.ofSeconds(5)).pass().entryId();
        var mine = openPlain(token);
        assertThat(mine.statusCode()).isEqualTo(200);
        // A lease left by a crashed instance, 1.5 s from its end.
        redis.execute(org.springframework.data.redis.core.script.RedisScript.of("""
                local t = redis.call('TIME')
                return redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + 1500, 'crashed:1')""", Long.class),
                List.of(QueueStore.streamsKey(concert, entry)), List.of()).blockLast(Duration.ofSeconds(5));
        var refused = openPlain(token);
        assertThat(refused.statusCode()).isEqualTo(429);
        assertThat(Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 2L);
        refused.body().close();
        await().atMost(Duration.ofSeconds(10)).until(() -> openPlainAndClose(token) == 200);
        mine.body().close();
    }

    private int openPlainAndClose(String token) throws Exception {
        var response = openPlain(token);
        response.body().close();
        return response.statusCode();
    }

    /**
     * Push: an admission message names the admitted entries and their streams say active from it, with no lookup.
     * The message here is published by hand, with an activeUntil no lookup could produce (the user never was admitted).
     */
    @Test
    void anAdmissionMessageReachesItsStreamWithoutALookup() {
        long concert = newConcert();
        pause(concert);
        String token = token(freshUserId(), concert);
        String entry = queue.verify(token).block(Duration.ofSeconds(5)).pass().entryId();
        List<ServerSentEvent<Map<String, Object>>> events = new CopyOnWriteArrayList<>();
        Disposable d = racingClient().get().uri("/api/v1/queues/stream?token={t}", token).retrieve().bodyToFlux(EVENT).subscribe(events::add);
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> !events.isEmpty());
            await().atMost(Duration.ofSeconds(10)).until(() -> streams.subscribed(concert));
            java.time.Instant until = java.time.Instant.now().plusSeconds(12_345).truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
            redis.execute(org.springframework.data.redis.core.script.RedisScript.of("return redis.call('SPUBLISH', KEYS[1], ARGV[1])", Long.class),
                    List.of(QueueStore.channel(concert)), List.of("A" + until.toEpochMilli() + "|other-entry," + entry)).blockLast(Duration.ofSeconds(5));
            await().atMost(Duration.ofSeconds(10)).until(() -> events.stream().anyMatch(e -> "active".equals(e.event())));
            var active = events.stream().filter(e -> "active".equals(e.event())).findFirst().orElseThrow();
            assertThat(java.time.Instant.parse((String) active.data().get("activeUntil"))).isEqualTo(until);
        } finally {
            d.dispose();
        }
    }

    /** Fallback: an admission whose message never came (pub/sub is at most once) still reaches the stream. */
    @Test
    void anAdmissionWithoutAMessageStillReachesTheStream() {
        long concert = newConcert();
        pause(concert);
        Map<?, ?> joined = join(freshUserId(), concert);
        String token = (String) joined.get("token");
        List<ServerSentEvent<Map<String, Object>>> events = new CopyOnWriteArrayList<>();
        Disposable d = racingClient().get().uri("/api/v1/queues/stream?token={t}", token).retrieve().bodyToFlux(EVENT).subscribe(events::add);
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> !events.isEmpty());
            // Admitted behind the hub's back: moved from waiting to active, nothing published.
            redis.execute(org.springframework.data.redis.core.script.RedisScript.of("""
                    local t = redis.call('TIME')
                    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
                    redis.call('ZREM', KEYS[1], ARGV[1])
                    redis.call('ZREM', KEYS[2], ARGV[1])
                    return redis.call('ZADD', KEYS[3], now + 60000, ARGV[1])""", Long.class),
                    List.of(QueueStore.key(concert, "wait"), QueueStore.key(concert, "seen"), QueueStore.key(concert, "active")),
                    List.of(String.valueOf(joined.get("userId")))).blockLast(Duration.ofSeconds(5));
            await().atMost(Duration.ofSeconds(10)).until(() -> events.stream().anyMatch(e -> "active".equals(e.event())));
        } finally {
            d.dispose();
        }
    }
}
