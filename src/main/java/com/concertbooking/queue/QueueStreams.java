package com.concertbooking.queue;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import com.concertbooking.queue.QueueStore.EntryState;
import com.concertbooking.queue.QueueStore.Kind;
import com.concertbooking.support.ApiException;
import io.lettuce.core.RedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.RedisClusterPubSubAdapter;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;
import reactor.util.concurrent.Queues;
import reactor.util.retry.Retry;

/**
 * SSE fan-out, pushed from Redis. The admission and queue scripts publish on the concert's shard channel
 * ({@link QueueStore#channel}); each instance subscribes (SSUBSCRIBE) only to the channels of concerts it has open
 * streams for, so its work never depends on fans waiting in other concerts.
 * <ul>
 * <li>An admission message names the admitted entries: their streams get {@code active} at once, with no lookup.</li>
 * <li>Any message marks the concert's positions stale: its streams here are looked up in batched script calls of
 * {@link #BATCH} entries, at once when the last lookup is {@link #MIN_GAP_MS} old, else right after that gap.</li>
 * <li>Fallback: every few seconds ({@link #MAX_SILENCE_MS} at most) all streams are looked up anyway. That sends
 * the keep-alive positions, keeps streaming users present, and converges if a message was lost (pub/sub delivers at
 * most once: a reconnect or a failover can drop some).</li>
 * </ul>
 * Each open stream holds a lease in Redis for the per-token limit ({@code booking.queue.max-streams-per-token}),
 * renewed every {@link #RENEW_EVERY_MS} and released when the stream ends; a crashed instance's leases run out.
 */
@Component
class QueueStreams implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(QueueStreams.class);
    static final Duration LOOP = Duration.ofMillis(100);
    static final long MIN_GAP_MS = 200;
    static final Duration HEARTBEAT = Duration.ofSeconds(10);
    /** Position events go out at least this often (SPEC: at least every 5 s). */
    static final long MAX_SILENCE_MS = 3_000;
    static final int BATCH = 500;
    static final Duration LEASE = Duration.ofSeconds(30);
    static final long RENEW_EVERY_MS = 10_000;
    /**
     * SSUBSCRIBE again now and then: idempotent, and repairs what Lettuce's own resubscription cannot, a channel whose
     * slot moved to another node (failover, resharding) or a reconnect whose multi-channel SSUBSCRIBE was CROSSSLOT.
     */
    static final long RESUBSCRIBE_EVERY_MS = 10_000;

    /**
     * What the hub pushes to a stream: a state with its concert's conditions (forced: send even if unchanged) or a
     * heartbeat (state null). {@code conditions} may be null for an admission learnt from a message alone.
     */
    record Update(EntryState state, QueueStore.Conditions conditions, Long estimate, String commitment, boolean forced) {
        static final Update HEARTBEAT = new Update(null, null, null, null, false);
    }

    static final class Watcher {
        final long concertId;
        final QueueStore.Member member;
        final QueueStore.Stream stream;
        final Sinks.Many<Update> sink = Sinks.many().unicast().onBackpressureBuffer(Queues.<Update>get(32).get());

        Watcher(long concertId, long userId, String entryId, String streamId) {
            this.concertId = concertId;
            this.member = new QueueStore.Member(userId, entryId);
            this.stream = new QueueStore.Stream(entryId, streamId);
        }

        /** Updates come from the loop, from Redis replies and from pub/sub messages: one at a time into the sink. */
        synchronized void emit(Update update) {
            sink.tryEmitNext(update);
        }
    }

    static final class Channel {
        final long concertId;
        final Set<Watcher> watchers = ConcurrentHashMap.newKeySet();
        /** Entry id -> its streams on this instance (at most max-streams-per-token). */
        final Map<String, Set<Watcher>> byEntry = new ConcurrentHashMap<>();
        final Queue<Watcher> fresh = new ConcurrentLinkedQueue<>();
        final AtomicBoolean busy = new AtomicBoolean();
        volatile boolean dirty;
        volatile boolean subscribed;
        volatile long lastRefreshMs;
        volatile long lastSubscribeMs;
        long lastRenewMs;
        boolean closed;

        Channel(long concertId) {
            this.concertId = concertId;
            // The first full lookup waits for the keep-alive; new streams are looked up once the subscription stands.
            this.lastRefreshMs = System.currentTimeMillis();
            this.lastRenewMs = lastRefreshMs;
        }
    }

    private final QueueStore store;
    private final QueueService service;
    private final Sales sales;
    private final QueueMetrics metrics;
    private final LettuceConnectionFactory connections;
    private final long defaultWaitTimeoutMs;
    private final int maxStreamsPerToken;
    private final Map<Long, Channel> channels = new ConcurrentHashMap<>();
    /** Concerts whose shard channel this instance subscribed to (touched by the loop thread only). */
    private final Set<Long> subscribedConcerts = new HashSet<>();
    private final AtomicInteger open = new AtomicInteger();
    private final String instanceId = UUID.randomUUID().toString().substring(0, 8);
    private final AtomicLong streamSequence = new AtomicLong();
    private volatile StatefulRedisPubSubConnection<String, String> pubsub;
    private volatile Disposable running;
    private volatile Disposable connecting;
    private long lastHeartbeatMs = System.currentTimeMillis();
    private volatile long lastFailureLog;

    public QueueStreams(QueueStore store, QueueService service, Sales sales, QueueMetrics metrics, LettuceConnectionFactory connections,
                        QueueProperties properties) {
        this.store = store;
        this.service = service;
        this.sales = sales;
        this.metrics = metrics;
        this.connections = connections;
        this.defaultWaitTimeoutMs = properties.waitingTimeout().toMillis();
        this.maxStreamsPerToken = properties.maxStreamsPerToken();
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

    /** Whether this instance's subscription to a concert's changes stands (tests wait for it before publishing). */
    boolean subscribed(long concertId) {
        Channel ch = channels.get(concertId);
        return ch != null && ch.subscribed;
    }

    /**
     * The event stream of one verified token, starting from the state the verification just read. A waiting (or
     * pre-queue) token gets a stream only while fewer than max-streams-per-token of its streams are open (across
     * instances), else 429. Active, expired and sold-out answers are one event (after the message, if any) and done.
     */
    public Flux<ServerSentEvent<Object>> stream(QueueService.Verified verified) {
        QueueService.Ticket ticket = verified.ticket();
        Update first = new Update(verified.state(), verified.conditions(), ticket.estimatedWaitSeconds(), ticket.commitment(), true);
        Kind kind = verified.state().kind();
        if ((kind != Kind.WAITING && kind != Kind.PREQUEUE) || verified.conditions().soldOut()) {
            return Flux.fromIterable(new Memory().events(first)); // one answer and done
        }
        long concertId = verified.pass().concertId();
        return Flux.defer(() -> {
            Watcher watcher = new Watcher(concertId, verified.pass().userId(), verified.pass().entryId(),
                    instanceId + ":" + streamSequence.incrementAndGet());
            AtomicBoolean leased = new AtomicBoolean();
            AtomicBoolean registered = new AtomicBoolean();
            Memory memory = new Memory();
            return store.openStream(concertId, watcher.stream, maxStreamsPerToken, LEASE)
                    .flatMap(untilFree -> Mono.<Void>error(ApiException.tooManyRequests(
                            "At most " + maxStreamsPerToken + " streams may be open per queue token; close one first",
                            clamp(untilFree))))
                    .doOnSuccess(v -> leased.set(true))
                    // Not thenMany: its concat holds the lease call's assembly (arguments and all) while the stream is
                    // open; detached, nothing of the finished call stays reachable from the open stream.
                    .thenReturn(Boolean.TRUE)
                    .onTerminateDetach()
                    .flatMapMany(ok -> {
                        register(watcher);
                        registered.set(true);
                        open.incrementAndGet();
                        return Flux.concat(Mono.just(first), watcher.sink.asFlux());
                    })
                    // Prefetch 1: a stream sees an update every few seconds, and the sink buffers (up to 32) meanwhile;
                    // the default prefetch (256) was a 256-slot queue per open stream.
                    .concatMapIterable(memory::events, 1)
                    .takeUntil(Memory::terminal)
                    .doFinally(signal -> {
                        if (registered.get()) {
                            unregister(watcher);
                            open.decrementAndGet();
                        }
                        if (leased.get()) {
                            store.closeStream(concertId, watcher.stream)
                                    .subscribe(null, e -> logFailure("releasing a stream lease failed (it runs out on its own)", e));
                        }
                    });
        });
    }

    private static Duration clamp(Duration untilFree) {
        long s = Math.max(1, Math.min(LEASE.toSeconds(), (untilFree.toMillis() + 999) / 1000));
        return Duration.ofSeconds(s);
    }

    /**
     * Per-stream memory: what this stream was last told. A position goes out when it, its estimate or the admission
     * state changed, or when a keep-alive is due, and never moves back; the pre-queue's countdown goes out on every
     * keep-alive (with the server's time); the operator's message whenever it changed; sold out, admission and
     * expiry end the stream.
     */
    static final class Memory {
        private static final Object UNSENT = new Object();
        private long position = Long.MAX_VALUE;
        private Long estimate;
        private Admission admission;
        private Object message = UNSENT;
        private Instant opensAt;

        List<ServerSentEvent<Object>> events(Update u) {
            if (u.state() == null) {
                return List.of(ServerSentEvent.builder().comment("heartbeat").build());
            }
            List<ServerSentEvent<Object>> out = new ArrayList<>(2);
            QueueStore.Conditions c = u.conditions();
            if (c != null && u.state().kind() != Kind.GONE && !Objects.equals(message, c.message())
                    && !(message == UNSENT && c.message() == null)) {
                message = c.message();
                out.add(ServerSentEvent.<Object>builder(new MessageEvent(c.message())).event("message").build());
            }
            switch (u.state().kind()) {
                case ACTIVE -> out.add(ServerSentEvent.<Object>builder(new ActiveEvent("ACTIVE", u.state().activeUntil()))
                        .event("active").build());
                case GONE -> out.add(ServerSentEvent.<Object>builder(new ExpiredEvent("EXPIRED")).event("expired").build());
                case PREQUEUE, WAITING -> {
                    if (c != null && c.soldOut()) {
                        out.add(ServerSentEvent.<Object>builder(new SoldOutEvent(true)).event("soldout").build());
                    } else if (u.state().kind() == Kind.PREQUEUE) {
                        if (u.forced() || !Objects.equals(opensAt, c == null ? null : c.opensAt())) {
                            opensAt = c == null ? null : c.opensAt();
                            out.add(ServerSentEvent.<Object>builder(new PrequeueEvent("PREQUEUE", opensAt,
                                    c == null ? null : c.serverTime(), u.commitment())).event("prequeue").build());
                        }
                    } else {
                        long p = Math.min(position, u.state().position());
                        Admission a = c == null ? admission : c.admission();
                        boolean changed = p != position || !Objects.equals(estimate, u.estimate()) || a != admission;
                        position = p;
                        estimate = u.estimate();
                        admission = a;
                        if (changed || u.forced()) {
                            out.add(ServerSentEvent.<Object>builder(new PositionEvent("WAITING", p, a, u.estimate())).event("position").build());
                        }
                    }
                }
            }
            return out;
        }

        static boolean terminal(ServerSentEvent<Object> e) {
            return "active".equals(e.event()) || "expired".equals(e.event()) || "soldout".equals(e.event());
        }
    }

    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
    public record PositionEvent(String status, long position, Admission admission,
                                @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.ALWAYS)
                                Long estimatedWaitSeconds) {}

    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
    public record PrequeueEvent(String status, Instant opensAt, Instant serverTime, String commitment) {}

    /** The operator's message; {@code text} null when it was cleared. */
    public record MessageEvent(String text) {}

    public record SoldOutEvent(boolean soldOut) {}

    public record ActiveEvent(String status, java.time.Instant activeUntil) {}

    public record ExpiredEvent(String status) {}

    private void register(Watcher watcher) {
        while (true) {
            Channel ch = channels.computeIfAbsent(watcher.concertId, Channel::new);
            synchronized (ch) {
                if (!ch.closed) {
                    ch.watchers.add(watcher);
                    ch.byEntry.computeIfAbsent(watcher.member.entryId(), e -> ConcurrentHashMap.newKeySet()).add(watcher);
                    ch.fresh.add(watcher); // looked up once subscribed: covers changes between verify and subscription
                    return;
                }
            }
        }
    }

    private void unregister(Watcher watcher) {
        Channel ch = channels.get(watcher.concertId);
        if (ch != null) {
            ch.watchers.remove(watcher);
            ch.byEntry.computeIfPresent(watcher.member.entryId(), (e, set) -> {
                set.remove(watcher);
                return set.isEmpty() ? null : set;
            });
        }
    }

    // ------------------------------------------------------------------------------------------ pushed changes

    /** A message on a concert's shard channel (on a Lettuce thread): 'A<activeUntil ms>|entry,entry,...' or 'C'. */
    void onMessage(String channelName, String message) {
        Long concertId = concertOf(channelName);
        Channel ch = concertId == null ? null : channels.get(concertId);
        if (ch == null) {
            return;
        }
        if (message.startsWith("A")) {
            try {
                int bar = message.indexOf('|');
                Update active = new Update(new EntryState(Kind.ACTIVE, 0, Instant.ofEpochMilli(Long.parseLong(message.substring(1, bar)))),
                        null, 0L, null, true);
                for (String entry : message.substring(bar + 1).split(",")) {
                    Set<Watcher> streams = ch.byEntry.get(entry);
                    if (streams != null) {
                        streams.forEach(w -> w.emit(active));
                    }
                }
            } catch (RuntimeException e) { // not ours to trust blindly: a malformed message only means "look up"
                logFailure("unreadable queue message on " + channelName, e);
            }
        }
        ch.dirty = true;
        long now = System.currentTimeMillis();
        if (now - ch.lastRefreshMs >= MIN_GAP_MS) {
            refresh(ch, true, false, now).subscribe(null, e -> logFailure("queue stream refresh failed (streams keep their last state)", e));
        }
    }

    private static Long concertOf(String channelName) {
        String prefix = "queue:{concert:";
        int end = channelName.indexOf('}');
        if (!channelName.startsWith(prefix) || end < 0) {
            return null;
        }
        try {
            return Long.parseLong(channelName.substring(prefix.length(), end));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    // ------------------------------------------------------------------------------------------ the loop

    /** One pass of the hub's loop (package-visible for tests): subscriptions, due lookups, leases, heartbeats. */
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
            live.forEach(ch -> ch.watchers.forEach(w -> w.emit(Update.HEARTBEAT)));
        }
        manageSubscriptions(live, now);
        List<Mono<Void>> work = new ArrayList<>();
        for (Channel ch : live) {
            long waitMs = metrics.waitTimeoutMs(ch.concertId, defaultWaitTimeoutMs);
            // Often enough that an open stream keeps its user present, and that keep-alive positions flow.
            long forcedEvery = Math.max(MIN_GAP_MS, Math.min(MAX_SILENCE_MS, waitMs / 3));
            boolean forced = now - ch.lastRefreshMs >= forcedEvery;
            boolean pushed = ch.dirty && now - ch.lastRefreshMs >= MIN_GAP_MS;
            if (forced || pushed) {
                work.add(refresh(ch, true, forced, now));
            } else if (!ch.fresh.isEmpty() && (ch.subscribed || pubsub == null || now - ch.lastSubscribeMs >= 1000)) {
                work.add(refresh(ch, false, false, now));
            }
            if (now - ch.lastRenewMs >= RENEW_EVERY_MS) {
                ch.lastRenewMs = now;
                work.add(renew(ch));
            }
        }
        return Flux.fromIterable(work).flatMap(m -> m.onErrorResume(e -> {
            logFailure("queue stream refresh failed (streams keep their last state)", e);
            return Mono.empty();
        })).then();
    }

    /**
     * Looks up the states of a concert's streams here (all of them, or only the new ones) and pushes each into its
     * stream. One lookup per concert at a time; a change arriving meanwhile leaves the concert dirty for the next.
     */
    private Mono<Void> refresh(Channel ch, boolean full, boolean forced, long now) {
        if (!ch.busy.compareAndSet(false, true)) {
            return Mono.empty();
        }
        List<Watcher> fresh = new ArrayList<>();
        for (Watcher w; (w = ch.fresh.poll()) != null; ) {
            fresh.add(w);
        }
        List<Watcher> targets;
        if (full) {
            ch.dirty = false;
            ch.lastRefreshMs = now;
            targets = new ArrayList<>(ch.watchers);
        } else {
            targets = fresh.stream().filter(ch.watchers::contains).toList();
        }
        if (targets.isEmpty()) {
            ch.busy.set(false);
            return Mono.empty();
        }
        return Flux.fromIterable(chunks(targets))
                .concatMap(chunk -> store.states(ch.concertId, chunk.stream().map(w -> w.member).toList(), true)
                        .flatMap(batch -> commitment(ch.concertId, batch).map(c -> reactor.util.function.Tuples.of(batch, c)))
                        // Writing thousands of events is real work: not on the Redis I/O thread, which the next
                        // admission message may be waiting behind.
                        .publishOn(Schedulers.parallel())
                        .doOnNext(t -> {
                            QueueStore.Batch batch = t.getT1();
                            String commitment = t.getT2().isEmpty() ? null : t.getT2();
                            for (int i = 0; i < chunk.size(); i++) {
                                EntryState state = batch.states().get(i);
                                Long estimate = service.estimateSeconds(ch.concertId, state, batch.conditions());
                                chunk.get(i).emit(new Update(state, batch.conditions(), estimate, commitment, forced));
                            }
                        }))
                .then()
                .doFinally(s -> ch.busy.set(false));
    }

    /** The draw's commitment for pre-queue streams ("" when none is in the batch or nothing is drawn yet). */
    private Mono<String> commitment(long concertId, QueueStore.Batch batch) {
        if (batch.states().stream().noneMatch(st -> st.kind() == Kind.PREQUEUE)) {
            return Mono.just("");
        }
        return sales.drawn(concertId).map(Sales.Drawn::commitment).defaultIfEmpty("");
    }

    private Mono<Void> renew(Channel ch) {
        List<Watcher> all = new ArrayList<>(ch.watchers);
        return Flux.fromIterable(chunks(all))
                .concatMap(chunk -> store.renewStreams(ch.concertId, chunk.stream().map(w -> w.stream).toList(), LEASE))
                .then();
    }

    private static List<List<Watcher>> chunks(List<Watcher> all) {
        List<List<Watcher>> chunks = new ArrayList<>();
        for (int i = 0; i < all.size(); i += BATCH) {
            chunks.add(all.subList(i, Math.min(all.size(), i + BATCH)));
        }
        return chunks;
    }

    /** Subscribes to the channels of concerts with streams here, unsubscribes from the others (loop thread only). */
    private void manageSubscriptions(List<Channel> live, long now) {
        StatefulRedisPubSubConnection<String, String> ps = pubsub;
        if (ps == null) {
            return;
        }
        Set<Long> wanted = new HashSet<>();
        live.forEach(ch -> wanted.add(ch.concertId));
        for (var it = subscribedConcerts.iterator(); it.hasNext(); ) {
            long concertId = it.next();
            if (!wanted.contains(concertId)) {
                it.remove();
                ps.async().sunsubscribe(QueueStore.channel(concertId));
            }
        }
        for (Channel ch : live) {
            if (!subscribedConcerts.contains(ch.concertId) || now - ch.lastSubscribeMs >= RESUBSCRIBE_EVERY_MS) {
                subscribedConcerts.add(ch.concertId);
                ch.lastSubscribeMs = now;
                ps.async().ssubscribe(QueueStore.channel(ch.concertId)).whenComplete((ok, e) -> {
                    if (e == null) {
                        ch.subscribed = true;
                    } else {
                        logFailure("subscribing to queue changes failed (streams fall back to periodic lookups)", e);
                    }
                });
            }
        }
    }

    /** The pub/sub connection: one per instance, to the shard owners on a cluster. Opened off the event loops. */
    private Mono<StatefulRedisPubSubConnection<String, String>> connect() {
        return Mono.fromCallable(() -> {
            var client = connections.getRequiredNativeClient();
            if (client instanceof RedisClusterClient cluster) {
                var connection = cluster.connectPubSub(StringCodec.UTF8);
                connection.addListener(new RedisClusterPubSubAdapter<String, String>() {
                    @Override
                    public void smessage(RedisClusterNode node, String channel, String message) {
                        onMessage(channel, message);
                    }
                });
                return (StatefulRedisPubSubConnection<String, String>) connection;
            }
            var connection = ((RedisClient) client).connectPubSub(StringCodec.UTF8);
            connection.addListener(new RedisPubSubAdapter<String, String>() {
                @Override
                public void smessage(String channel, String message) {
                    onMessage(channel, message);
                }
            });
            return connection;
        }).subscribeOn(Schedulers.boundedElastic());
    }

    private void logFailure(String what, Throwable e) {
        long t = System.currentTimeMillis();
        if (t - lastFailureLog > 10_000) {
            lastFailureLog = t;
            log.warn("{}: {}", what, e.toString());
        }
    }

    @Override
    public void start() {
        // Until the pub/sub connection stands (Redis down at start, say), streams live on the periodic lookups.
        connecting = connect()
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofMillis(500)).maxBackoff(Duration.ofSeconds(10))
                        .doBeforeRetry(s -> logFailure("queue pub/sub connection failed, retrying", s.failure())))
                .subscribe(c -> pubsub = c);
        running = Flux.interval(LOOP, LOOP, Schedulers.parallel())
                .onBackpressureDrop()
                .doOnNext(i -> {
                    try {
                        pollOnce().subscribe();
                    } catch (RuntimeException e) {
                        logFailure("queue stream loop failed", e);
                    }
                })
                .subscribe();
    }

    @Override
    public void stop() {
        Disposable d = running;
        if (d != null) {
            d.dispose();
        }
        running = null;
        Disposable c = connecting;
        if (c != null) {
            c.dispose();
        }
        StatefulRedisPubSubConnection<String, String> ps = pubsub;
        pubsub = null;
        if (ps != null) {
            ps.closeAsync();
        }
        // Complete open streams so that a graceful shutdown does not wait for them; clients reconnect elsewhere.
        channels.values().forEach(ch -> ch.watchers.forEach(w -> {
            synchronized (w) {
                w.sink.tryEmitComplete();
            }
        }));
    }

    @Override
    public boolean isRunning() {
        Disposable d = running;
        return d != null && !d.isDisposed(); // a loop killed by an unhandled error reports itself stopped
    }
}
