package com.concertbooking.catalog;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import com.concertbooking.catalog.CatalogStore.ListingRow;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;

/**
 * Loads of dates listings that are waiting at the same moment share one statement (issue 18: a walk over all concerts
 * makes every listing a cold one). At most {@code maxStatements} listing statements run at a time; a load that finds a
 * free one goes out at once, alone (no added latency when the service is not busy), and the loads that arrive while all
 * are busy go out together, up to {@code maxBatch} concerts in one statement, as soon as one ends. So the batches grow
 * only when listings queue for the database anyway, and then a statement's fixed cost (connection, round trip, parsing)
 * is shared by many listings.
 * <p>
 * Each load gets its concert's rows sorted by start ({@link CatalogStore#START_ORDER}), or an empty list when the
 * concert does not exist. A failed or timed-out statement fails every load of its batch.
 */
final class ListingBatches {

    private record Pending(long concertId, MonoSink<List<ListingRow>> sink) {}

    private final Function<Set<Long>, Flux<ListingRow>> query;
    private final int maxBatch;
    private final int maxStatements;
    private final Duration timeout;
    private final Queue<Pending> waiting = new ConcurrentLinkedQueue<>();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicLong statements = new AtomicLong();

    /**
     * @param query the rows of these concerts' listings, in any order (CatalogStore#listings)
     */
    ListingBatches(Function<Set<Long>, Flux<ListingRow>> query, int maxBatch, int maxStatements, Duration timeout) {
        if (maxBatch < 1 || maxStatements < 1) {
            throw new IllegalArgumentException("maxBatch and maxStatements must be positive");
        }
        this.query = query;
        this.maxBatch = maxBatch;
        this.maxStatements = maxStatements;
        this.timeout = timeout;
    }

    /** The rows of one concert's listing, sorted by start; empty when the concert does not exist. */
    Mono<List<ListingRow>> load(long concertId) {
        return Mono.create(sink -> {
            waiting.add(new Pending(concertId, sink));
            drain();
        });
    }

    /** Starts statements while some are free and loads wait. Safe from any thread; never blocks. */
    private void drain() {
        while (!waiting.isEmpty()) {
            int now = running.get();
            if (now >= maxStatements) {
                return; // the statement that ends next drains again
            }
            if (!running.compareAndSet(now, now + 1)) {
                continue;
            }
            List<Pending> batch = new ArrayList<>(Math.min(maxBatch, 16));
            Pending next;
            while (batch.size() < maxBatch && (next = waiting.poll()) != null) {
                batch.add(next);
            }
            if (batch.isEmpty()) {
                running.decrementAndGet(); // another drain took them
                continue;
            }
            run(batch);
        }
    }

    private void run(List<Pending> batch) {
        Set<Long> ids = new LinkedHashSet<>(batch.size() * 2);
        for (Pending p : batch) {
            ids.add(p.concertId());
        }
        statements.incrementAndGet();
        Mono.defer(() -> query.apply(ids).collectList())
                .timeout(timeout)
                .subscribe(rows -> answer(batch, rows), error -> fail(batch, error));
    }

    private void answer(List<Pending> batch, List<ListingRow> rows) {
        Map<Long, List<ListingRow>> byConcert = new HashMap<>(batch.size() * 2);
        for (ListingRow row : rows) {
            byConcert.computeIfAbsent(row.concertId(), k -> new ArrayList<>(2)).add(row);
        }
        for (List<ListingRow> listing : byConcert.values()) {
            if (listing.size() > 1) { // a row without a date comes alone
                listing.sort(CatalogStore.START_ORDER);
            }
        }
        done();
        for (Pending p : batch) {
            p.sink().success(byConcert.getOrDefault(p.concertId(), List.of()));
        }
    }

    private void fail(List<Pending> batch, Throwable error) {
        done();
        for (Pending p : batch) {
            p.sink().error(error);
        }
    }

    /** Frees this statement's place, then starts the next batch if loads wait. */
    private void done() {
        running.decrementAndGet();
        drain();
    }

    /** Statements started so far (tests). */
    long statements() {
        return statements.get();
    }
}
