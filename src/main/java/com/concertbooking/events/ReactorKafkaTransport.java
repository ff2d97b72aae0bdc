package com.concertbooking.events;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.kafka.receiver.KafkaReceiver;
import reactor.kafka.receiver.ReceiverOptions;
import reactor.kafka.sender.KafkaSender;
import reactor.kafka.sender.SenderOptions;
import reactor.kafka.sender.SenderRecord;

/**
 * {@link EventTransport} on reactor-kafka 1.3 / kafka-clients 3.9: the only class that imports them.
 *
 * <p>kafka-clients can block the calling thread (producer metadata waits up to max.block.ms, client
 * construction, close), so every call into it is moved onto {@code kafka-io}, a bounded elastic
 * scheduler of our own, never onto a Netty or Reactor parallel thread.
 */
@Component
class ReactorKafkaTransport implements EventTransport, DisposableBean {

    private final EventsProperties properties;
    private final Map<String, Object> common;
    private final Scheduler io = Schedulers.newBoundedElastic(4, 100_000, "kafka-io", 60, true);
    private final KafkaSender<String, String> sender;
    private final AtomicReference<Admin> adminClient = new AtomicReference<>();
    private final Mono<Admin> admin;

    public ReactorKafkaTransport(BrokerProperties broker, EventsProperties properties) {
        this.properties = properties;
        Map<String, Object> c = new HashMap<>();
        c.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        // While the broker is down, reconnect at most every 5 s instead of flooding the log every 1 s.
        c.put(CommonClientConfigs.RECONNECT_BACKOFF_MS_CONFIG, 200);
        c.put(CommonClientConfigs.RECONNECT_BACKOFF_MAX_MS_CONFIG, 5_000);
        c.put(CommonClientConfigs.SOCKET_CONNECTION_SETUP_TIMEOUT_MS_CONFIG, 5_000);
        c.put(CommonClientConfigs.SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS_CONFIG, 10_000);
        this.common = Map.copyOf(c);
        this.sender = KafkaSender.create(senderOptions());
        this.admin = Mono.fromCallable(() -> {
                    Map<String, Object> a = new HashMap<>(common);
                    int timeout = (int) properties.adminTimeout().toMillis();
                    a.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(timeout, 5_000));
                    a.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeout);
                    a.put(AdminClientConfig.CLIENT_ID_CONFIG, "booking-admin");
                    Admin created = Admin.create(a);
                    adminClient.set(created);
                    return created;
                })
                .subscribeOn(io)
                .cache(ok -> Duration.ofMillis(Long.MAX_VALUE), error -> Duration.ZERO, () -> Duration.ZERO);
    }

    private SenderOptions<String, String> senderOptions() {
        int deliveryTimeout = (int) properties.relay().deliveryTimeout().toMillis();
        Map<String, Object> p = new HashMap<>(common);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "booking-relay");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        // Durable and ordered: every in-sync replica has it before the ack; idempotence keeps order per
        // partition through retries with up to 5 requests in flight, and drops broker-side duplicates.
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        p.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        // Bounded waits, so a pass against a dead broker ends and the relay backs off instead of hanging.
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(5_000, deliveryTimeout / 2));
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, deliveryTimeout);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000);
        return SenderOptions.<String, String>create(p)
                .maxInFlight(1024)
                .stopOnError(true)
                .scheduler(io)
                .closeTimeout(Duration.ofSeconds(5));
    }

    @Override
    public <C> Flux<Sent<C>> send(Flux<Outgoing<C>> records) {
        AtomicBoolean failureReported = new AtomicBoolean();
        // producer.send() runs in onNext of the records: publishOn moves it (and its possible metadata
        // wait) onto kafka-io; subscribeOn does the same for the lazy producer creation.
        Flux<SenderRecord<String, String, C>> senderRecords = records
                .map(r -> SenderRecord.create(new ProducerRecord<>(r.topic(), null, null, r.key(), r.value(), headers(r.headers())),
                        r.correlation()))
                .publishOn(io);
        return sender.send(senderRecords)
                .map(result -> {
                    if (result.exception() != null) {
                        failureReported.set(true);
                    }
                    return new Sent<>(result.correlationMetadata(), (Throwable) result.exception());
                })
                // stopOnError: the failure was emitted as a Sent; the error signal only means "stopped".
                .onErrorResume(e -> failureReported.get() ? Flux.empty() : Flux.just(new Sent<C>(null, e)))
                .subscribeOn(io);
    }

    @Override
    public Flux<Incoming> receive(String group, Collection<String> topics) {
        Map<String, Object> p = new HashMap<>(common);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "booking-" + group);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 200);
        // A killed instance's partitions move to the survivors after the session timeout (heartbeats at a third of it).
        int session = (int) properties.consumer().sessionTimeout().toMillis();
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, session);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Math.max(500, session / 3));
        ReceiverOptions<String, String> options = ReceiverOptions.<String, String>create(p)
                .subscription(List.copyOf(topics))
                .commitInterval(properties.consumer().commitInterval())
                .commitBatchSize(100)
                .maxCommitAttempts(Integer.MAX_VALUE)
                .closeTimeout(Duration.ofSeconds(5)) // bounded shutdown, also with the broker gone
                .schedulerSupplier(() -> io);
        KafkaReceiver<String, String> receiver = KafkaReceiver.create(options);
        return Flux.defer(receiver::receive)
                .map(r -> new Incoming(r.topic(), r.partition(), r.offset(), r.key(), r.value(), headers(r.headers()),
                        r.receiverOffset()::acknowledge))
                .subscribeOn(io);
    }

    private static List<Header> headers(Map<String, String> headers) {
        return headers == null ? List.of() : headers.entrySet().stream()
                .<Header>map(e -> new RecordHeader(e.getKey(), e.getValue().getBytes(StandardCharsets.UTF_8)))
                .toList();
    }

    private static Map<String, String> headers(Iterable<Header> headers) {
        Map<String, String> map = new LinkedHashMap<>();
        for (Header h : headers) {
            map.put(h.key(), h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
        }
        return map;
    }

    @Override
    public Mono<Void> createMissingTopics(Collection<TopicSpec> topics, Duration timeout) {
        int timeoutMs = (int) timeout.toMillis();
        return admin.flatMap(a -> mono(a.listTopics(new ListTopicsOptions().timeoutMs(timeoutMs)).names())
                        .flatMap(existing -> {
                            List<NewTopic> missing = topics.stream()
                                    .filter(t -> !existing.contains(t.name()))
                                    .map(t -> new NewTopic(t.name(), t.partitions(), t.replicationFactor())
                                            .configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, Long.toString(t.retention().toMillis()))))
                                    .toList();
                            if (missing.isEmpty()) {
                                return Mono.<Void>empty();
                            }
                            CreateTopicsResult result = a.createTopics(missing, new CreateTopicsOptions().timeoutMs(timeoutMs));
                            // Another instance may create the same topic at the same moment: that is success.
                            return Flux.fromIterable(result.values().values())
                                    .flatMap(f -> mono(f).onErrorResume(ReactorKafkaTransport::topicExists, e -> Mono.empty()))
                                    .then();
                        }))
                .subscribeOn(io)
                .timeout(timeout.plusSeconds(1));
    }

    private static boolean topicExists(Throwable e) {
        return e instanceof TopicExistsException || e.getCause() instanceof TopicExistsException;
    }

    @Override
    public Mono<BrokerInfo> describe(Duration timeout) {
        return admin.flatMap(a -> {
                    DescribeClusterResult r = a.describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout.toMillis()));
                    return Mono.zip(mono(r.clusterId()), mono(r.nodes()), (id, nodes) -> new BrokerInfo(id, nodes.size()));
                })
                .subscribeOn(io)
                .timeout(timeout.plusMillis(500));
    }

    @Override
    public boolean isTransient(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof org.apache.kafka.common.errors.RetriableException || t instanceof java.util.concurrent.TimeoutException) {
                return true;
            }
            if (t instanceof org.apache.kafka.common.errors.ApiException) {
                return false; // authorization, invalid configuration, ...: retrying does not help
            }
        }
        return true;
    }

    /** A KafkaFuture as a Mono, without parking a thread on get(). */
    private static <T> Mono<T> mono(KafkaFuture<T> future) {
        return Mono.fromCompletionStage(future.toCompletionStage())
                .onErrorMap(CompletionException.class, e -> e.getCause() != null ? e.getCause() : e);
    }

    @Override
    public void destroy() {
        sender.close(); // flushes what is in flight (bounded by closeTimeout); runs on the shutdown thread
        Admin a = adminClient.get();
        if (a != null) {
            a.close(Duration.ofSeconds(5));
        }
        io.dispose();
    }

}
