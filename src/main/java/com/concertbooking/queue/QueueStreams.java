package com.concertbooking.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import com.concertbooking.queue.QueueStore.EntryState;
import com.concertbooking.queue.QueueStore.Kind;
import com.concertbooking.support.BookingProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.util.concurrent.Queues;

/**
 * SSE fan-out. One hub per instance: every {@link #POLL} it reads the change counters of all concerts with
 * open streams here in one MGET; only for a concert whose counter moved (or every few seconds, for the
 * keep-alive events and presence) it looks up all of that concert's streams in batched script calls of
 * {@link #BATCH} entries, and pushes each result into the stream's own sink. Redis round trips therefore
 * grow with concerts and changes, not with open streams. Heartbeat comments ride on the same loop.
 * A closed connection cancels the stream, which unregisters it at once.
 */
@Component
public class QueueStreams implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(QueueStreams.class);
    static final Duration POLL = Duration.ofMillis(250);
    static final Duration HEARTBEAT = Duration.ofSeconds(10);
    /** Position events go out at least this often (SPEC: at least every 5 s). */
    static final long MAX_SILENCE_MS = 3_000;
    static final int BATCH = 500;

    /** What the hub pushes to a stream: a state (forced: send even if unchanged) or a heartbeat (state null). */
    record Update(EntryState state, Long estimate, boolean forced) {
        static final Update HEARTBEAT = new Update(null, null, false);
    }

    static final class Watcher {
        final long concertId;
        final QueueStore.Member member;
        final Sinks.Many<Update> sink = Sinks.many().unicast().onBackpressureBuffer(Queues.<Update>get(32).get());

        Watcher(long concertId, long userId, String entryId) {
            this.concertId = concertId;
            this.member = new QueueStore.Member(userId, entryId);
        }
    }

    static final class Channel {
        final long concertId;
        final Set<Watcher> watchers = ConcurrentHashMap.newKeySet();
        final Queue<Watcher> fresh = new ConcurrentLinkedQueue<>();
        String version;
        long lastRefreshMs;
        boolean closed;

        Channel(long concertId) {
            this.concertId = concertId;
        }
    }

    private final QueueStore store;
    private final QueueService service;
    private final QueueMetrics metrics;
    private final long defaultWaitTimeoutMs;
    private final Map<Long, Channel> channels = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private volatile Disposable running;
    private long lastHeartbeatMs = System.currentTimeMillis();
    private volatile long lastFailureLog;

    public QueueStreams(QueueStore store, QueueService service, QueueMetrics metrics, BookingProperties properties) {
        this.store = store;
        this.service = service;
        this.metrics = metrics;
        this.defaultWaitTimeoutMs = properties.queue().waitingTimeout().toMillis();
        metrics.streams(open::get);
    }

    public int openStreams() {
        return open.get();
    }

    /** Streams of one concert open on this instance. */
    public int openStreams(long concertId) {
        Channel ch = channels.get(concertId);
        return ch == null ? 0 : ch.watchers.size();
    }

    /** The event stream of one verified token, starting from the state the verification just read. */
    public Flux<ServerSentEvent<Object>> stream(QueueService.Verified verified) {
        Update first = new Update(verified.state(), verified.ticket().estimatedWaitSeconds(), true);
        if (verified.state().kind() != Kind.WAITING) {
            return Flux.just(new Memory().event(first)); // active or expired: one event and done
        }
        return Flux.defer(() -> {
            Watcher watcher = new Watcher(verified.pass().concertId(), verified.pass().userId(), verified.pass().entryId());
            register(watcher);
            open.incrementAndGet();
            Memory memory = new Memory();
            return Flux.concat(Mono.just(first), watcher.sink.asFlux())
                    .mapNotNull(memory::event)
                    .takeUntil(Memory::terminal)
                    .doFinally(signal -> {
                        unregister(watcher);
                        open.decrementAndGet();
                    });
        });
    }

    /** Per-stream memory: send a position when it changed or when a keep-alive is due; never move back. */
    static final class Memory {
        private long position = Long.MAX_VALUE;
        private Long estimate;

        ServerSentEvent<Object> event(Update u) {
            if (u.state() == null) {
                return ServerSentEvent.builder().comment("heartbeat").build();
            }
            return switch (u.state().kind()) {
                case ACTIVE -> ServerSentEvent.<Object>builder(new ActiveEvent("ACTIVE", u.state().activeUntil()))
                        .event("active").build();
                case GONE -> ServerSentEvent.<Object>builder(new ExpiredEvent("EXPIRED")).event("expired").build();
                case WAITING -> {
                    long p = Math.min(position, u.state().position());
                    boolean changed = p != position || !Objects.equals(estimate, u.estimate());
                    position = p;
                    estimate = u.estimate();
                    yield changed || u.forced()
                            ? ServerSentEvent.<Object>builder(new PositionEvent("WAITING", p, u.estimate())).event("position").build()
                            : null;
                }
            };
        }

        static boolean terminal(ServerSentEvent<Object> e) {
            return "active".equals(e.event()) || "expired".equals(e.event());
        }
    }

    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
    public record PositionEvent(String status, long position, Long estimatedWaitSeconds) {}

    public record ActiveEvent(String status, java.time.Instant activeUntil) {}

    public record ExpiredEvent(String status) {}

    private void register(Watcher watcher) {
        while (true) {
            Channel ch = channels.computeIfAbsent(watcher.concertId, Channel::new);
            synchronized (ch) {
                if (!ch.closed) {
                    ch.watchers.add(watcher);
                    ch.fresh.add(watcher); // looked up in the next pass: covers changes between verify and register
                    return;
                }
            }
        }
    }

    private void unregister(Watcher watcher) {
        Channel ch = channels.get(watcher.concertId);
        if (ch != null) {
            ch.watchers.remove(watcher);
        }
    }

    /** One hub pass (package-visible for tests). */
    Mono<Void> pollOnce() {
        long now = System.currentTimeMillis();
        List<Channel> live = new ArrayList<>();
        for (Channel ch : channels.values()) {
            synchronized (ch) {
                if (ch.watchers.isEmpty()) {
                    ch.closed = true;
                    channels.remove(ch.concertId, ch);
                    continue;
                }
            }
            live.add(ch);
        }
        if (now - lastHeartbeatMs >= HEARTBEAT.toMillis()) {
            lastHeartbeatMs = now;
            live.forEach(ch -> ch.watchers.forEach(w -> w.sink.tryEmitNext(Update.HEARTBEAT)));
        }
        if (live.isEmpty()) {
            return Mono.empty();
        }
        return store.versions(live.stream().map(ch -> ch.concertId).toList())
                .flatMapMany(versions -> Flux.range(0, live.size()).flatMap(i -> refresh(live.get(i), versions.get(i), now), 4))
                .then();
    }

    private Mono<Void> refresh(Channel ch, String version, long now) {
        long waitMs = metrics.waitTimeoutMs(ch.concertId, defaultWaitTimeoutMs);
        // Refresh often enough that an open stream keeps its user present, and that keep-alive positions flow.
        long forcedEvery = Math.max(POLL.toMillis(), Math.min(MAX_SILENCE_MS, waitMs / 3));
        boolean forced = now - ch.lastRefreshMs >= forcedEvery;
        boolean changed = !Objects.equals(version, ch.version);
        List<Watcher> fresh = new ArrayList<>();
        for (Watcher w; (w = ch.fresh.poll()) != null; ) {
            fresh.add(w);
        }
        List<Watcher> targets;
        if (changed || forced) {
            ch.version = version;
            ch.lastRefreshMs = now;
            targets = new ArrayList<>(ch.watchers);
        } else {
            targets = fresh.stream().filter(ch.watchers::contains).toList();
        }
        if (targets.isEmpty()) {
            return Mono.empty();
        }
        List<List<Watcher>> chunks = new ArrayList<>();
        for (int i = 0; i < targets.size(); i += BATCH) {
            chunks.add(targets.subList(i, Math.min(targets.size(), i + BATCH)));
        }
        return Flux.fromIterable(chunks)
                .concatMap(chunk -> store.states(ch.concertId, chunk.stream().map(w -> w.member).toList(), true)
                        .doOnNext(batch -> {
                            for (int i = 0; i < chunk.size(); i++) {
                                EntryState state = batch.states().get(i);
                                Long estimate = service.estimateSeconds(state, batch.observedRate(), batch.admitPerTick());
                                chunk.get(i).sink.tryEmitNext(new Update(state, estimate, forced));
                            }
                        }))
                .then();
    }

    @Override
    public void start() {
        running = Flux.interval(POLL, POLL, Schedulers.parallel())
                .onBackpressureDrop()
                .concatMap(i -> pollOnce().onErrorResume(e -> {
                    long t = System.currentTimeMillis();
                    if (t - lastFailureLog > 10_000) {
                        lastFailureLog = t;
                        log.warn("queue stream refresh failed (streams keep their last state): {}", e.toString());
                    }
                    return Mono.empty();
                }), 1)
                .subscribe();
    }

    @Override
    public void stop() {
        Disposable d = running;
        if (d != null) {
            d.dispose();
        }
        running = null;
        // Complete open streams so that a graceful shutdown does not wait for them; clients reconnect elsewhere.
        channels.values().forEach(ch -> ch.watchers.forEach(w -> w.sink.tryEmitComplete()));
    }

    @Override
    public boolean isRunning() {
        Disposable d = running;
        return d != null && !d.isDisposed(); // a loop killed by an unhandled error reports itself stopped
    }
}
