package com.concertbooking.catalog;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import com.concertbooking.catalog.CatalogStore.ListingRow;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

import static org.assertj.core.api.Assertions.assertThat;

/** How cold listings share statements, on statements the test answers by hand (no database). */
class ListingBatchesTest {

    /** Statements started, in order: the concerts each asked for, and the sink the test answers it through. */
    private final List<Set<Long>> asked = new ArrayList<>();
    private final List<Sinks.Many<ListingRow>> answers = new ArrayList<>();
    private final ListingBatches batches = new ListingBatches(ids -> {
        Sinks.Many<ListingRow> sink = Sinks.many().unicast().onBackpressureBuffer();
        synchronized (asked) {
            asked.add(new LinkedHashSet<>(ids));
            answers.add(sink);
        }
        return sink.asFlux();
    }, 3, 2, Duration.ofSeconds(5));

    private final Map<Long, List<ListingRow>> results = new ConcurrentHashMap<>();
    private final Map<Long, Throwable> errors = new ConcurrentHashMap<>();

    private void load(long concertId) {
        batches.load(concertId).subscribe(rows -> results.put(concertId, rows), e -> errors.put(concertId, e));
    }

    private static final Instant T = Instant.parse("2027-01-01T19:00:00Z");

    private static ListingRow date(long concertId, long dateId, int days) {
        return new ListingRow(concertId, dateId, T.plus(Duration.ofDays(days)), "Hall", 10, 7);
    }

    /** Answers statement i with the listings of the concerts it asked for: concert c has dates 10c+2 (day 2) and 10c+1 (day 5), unknown from 900 on. */
    private void answer(int i) {
        Sinks.Many<ListingRow> sink = answers.get(i);
        for (long c : asked.get(i)) {
            if (c < 900) {
                sink.tryEmitNext(date(c, 10 * c + 1, 5));
                sink.tryEmitNext(date(c, 10 * c + 2, 2));
            }
        }
        sink.tryEmitComplete();
    }

    @Test
    void loadsThatFindAFreeStatementGoAloneAndTheOthersShareTheNextOnes() {
        for (long c = 1; c <= 8; c++) {
            load(c);
        }
        // Two statements at a time: the first two loads went out alone, at once; six wait.
        assertThat(asked).containsExactly(Set.of(1L), Set.of(2L));
        answer(0);
        // The first one's end starts the next batch: up to three waiting loads in one statement.
        assertThat(asked).hasSize(3);
        assertThat(asked.get(2)).containsExactly(3L, 4L, 5L);
        assertThat(results).containsOnlyKeys(1L);
        answer(1);
        assertThat(asked).hasSize(4);
        assertThat(asked.get(3)).containsExactly(6L, 7L, 8L);
        answer(2);
        assertThat(asked).as("nothing waits: no statement").hasSize(4);
        answer(3);
        assertThat(results).hasSize(8);
        assertThat(errors).isEmpty();
        for (long c = 1; c <= 8; c++) {
            assertThat(results.get(c)).as("concert %d: its own dates, by start", c)
                    .extracting(ListingRow::concertDateId).containsExactly(10 * c + 2, 10 * c + 1);
        }
    }

    @Test
    void aLoadThatFindsAFreeStatementIsNotHeldBack() {
        load(1);
        answer(0);
        load(2);
        assertThat(asked).containsExactly(Set.of(1L), Set.of(2L));
        answer(1);
        assertThat(results.get(2L)).hasSize(2);
    }

    @Test
    void anUnknownConcertGetsAnEmptyListingAndAFailedStatementFailsOnlyItsBatch() {
        load(1);
        load(2);
        load(901);
        load(3);
        assertThat(asked).containsExactly(Set.of(1L), Set.of(2L));
        answers.get(0).tryEmitError(new IllegalStateException("connection lost"));
        // Its place is free again: the waiting loads go out.
        assertThat(asked.get(2)).containsExactly(901L, 3L);
        answer(1);
        answer(2);
        assertThat(errors).containsOnlyKeys(1L);
        assertThat(results.get(901L)).isEmpty();
        assertThat(results.get(3L)).hasSize(2);
        assertThat(results.get(2L)).hasSize(2);
        assertThat(batches.statements()).isEqualTo(3);
    }

    @Test
    void aStatementThatNeverAnswersTimesOutAndFreesItsPlace() {
        ListingBatches slow = new ListingBatches(ids -> Flux.never(), 4, 1, Duration.ofMillis(50));
        List<Throwable> failures = new ArrayList<>();
        slow.load(1).subscribe(rows -> { }, failures::add);
        slow.load(2).subscribe(rows -> { }, failures::add);
        assertThat(slow.statements()).isEqualTo(1);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (slow.statements() < 2 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(slow.statements()).as("the waiting load went out once the first statement timed out").isEqualTo(2);
    }
}
