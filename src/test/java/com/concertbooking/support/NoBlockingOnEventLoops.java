package com.concertbooking.support;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingOperationError;

/**
 * Installs BlockHound once per test JVM. Any blocking call on a Netty event loop or a Reactor
 * non-blocking thread throws, and is recorded so that the test that caused it fails even when
 * the error was swallowed into a 500 or a log line.
 */
public final class NoBlockingOnEventLoops {

    private static final List<String> VIOLATIONS = new CopyOnWriteArrayList<>();
    private static volatile boolean installed;

    private NoBlockingOnEventLoops() {}

    public static synchronized void install() {
        if (installed) {
            return;
        }
        BlockHound.builder()
                .loadIntegrations() // Reactor and Netty integrations mark their non-blocking threads
                // Logging to the console is a deliberate, bounded write.
                .allowBlockingCallsInside("ch.qos.logback.core.OutputStreamAppender", "writeBytes")
                .allowBlockingCallsInside("ch.qos.logback.core.OutputStreamAppender", "subAppend")
                // JIT class loading/initialisation reads jars once.
                .allowBlockingCallsInside("java.lang.ClassLoader", "loadClass")
                // Netty loads the zstd native library once, in a static initialiser, for the test client's decompression.
                .allowBlockingCallsInside("io.netty.handler.codec.compression.Zstd", "<clinit>")
                // Lettuce guards its writer count with a ReentrantLock held for a few field updates; under contention it
                // parks for microseconds, never on I/O (redis/lettuce#2510). Any concurrent Redis use can hit it.
                .allowBlockingCallsInside("io.lettuce.core.protocol.SharedLock", "incrementWriters")
                .allowBlockingCallsInside("io.lettuce.core.protocol.SharedLock", "decrementWriters")
                // Netty's adaptive allocator locks a magazine for a few field updates while growing its magazine group;
                // under contention (several Lettuce event loops, as against a Redis Cluster) it parks briefly, never on I/O.
                .allowBlockingCallsInside("io.netty.buffer.AdaptivePoolingAllocator$MagazineGroup", "tryExpandMagazines")
                // Spring Data Redis takes a ReentrantLock on every getReactiveConnection() to hand out the shared
                // connection; the connect inside it happens once, at start-up (queue.RedisWarmup), off the event loops.
                .allowBlockingCallsInside("org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory", "doInLock")
                // r2dbc-mysql creates its statement cache on the first connections by double-checked locking: a lock
                // held for one allocation, contended only while the very first connections open at once.
                .allowBlockingCallsInside("io.asyncer.r2dbc.mysql.MySqlConnectionFactory$LazyQueryCache", "get")
                // Jackson creates a type's deserializer once and caches it, under a lock: two requests of a type not yet
                // read (a payment body right after start) may park for that creation, never on I/O.
                .allowBlockingCallsInside("tools.jackson.databind.deser.DeserializerCache", "_createAndCacheValueDeserializer")
                // SecureRandom seeding (UUIDs, JWT) reads /dev/urandom, which does not block.
                .allowBlockingCallsInside("java.security.SecureRandom", "nextBytes")
                .allowBlockingCallsInside("java.util.UUID", "randomUUID")
                .blockingMethodCallback(method -> {
                    String where = method + " on " + Thread.currentThread().getName() + " via "
                            + java.util.Arrays.stream(new Throwable().getStackTrace())
                                    .map(StackTraceElement::toString)
                                    .filter(f -> !f.startsWith("java.") && !f.startsWith("jdk.") && !f.startsWith("reactor.blockhound")
                                            && !f.startsWith("com.concertbooking.support.NoBlocking"))
                                    .limit(8).toList();
                    VIOLATIONS.add(where);
                    throw new BlockingOperationError(method);
                })
                .install();
        installed = true;
    }

    public static List<String> drainViolations() {
        List<String> copy = List.copyOf(VIOLATIONS);
        VIOLATIONS.clear();
        return copy;
    }
}
