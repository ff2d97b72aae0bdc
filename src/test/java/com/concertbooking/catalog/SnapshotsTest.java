package com.concertbooking.catalog;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import static org.assertj.core.api.Assertions.assertThat;

/** The snapshot rules on a hand-driven clock: staleness bound, one load per key, stale-while-reloading. */
class SnapshotsTest {

    record Snap(long key, String body, long loadStartedNanos) implements Snapshots.Versioned {
        @Override
        public int weight() {
            return body.length();
        }
    }

    private static final long MS = 1_000_000L;
    private final AtomicLong now = new AtomicLong(1_000_000 * MS);
    /** Loads started, each completed by the test through its sink. */
    private final List<Sinks.One<Snap>> pending = new ArrayList<>();
    private final List<Long> startedAt = new ArrayList<>();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    // max-stale 1 s, refresh-after 500 ms, min-reload 100 ms
    private final Snapshots<Snap> snapshots = new Snapshots<>("test", SeatMapProperties.defaults(), DataSize.ofMegabytes(1).toBytes(),
            (key, started) -> {
            Sinks.One<Snap> sink = Sinks.one();
            synchronized (pending) {
                pending.add(sink);
                startedAt.add(started);
            }
            return sink.asMono();
        }, now::get, meters);

    private void finishLoad(int index, long key, String body) {
        pending.get(index).tryEmitValue(new Snap(key, body, startedAt.get(index)));
    }

    private void advanceMs(long ms) {
        now.addAndGet(ms * MS);
    }

    private String read(long key) {
        return snapshots.get(key).map(Snap::body).block(Duration.ofSeconds(1));
    }

    @Test
    void manyReadersOfAColdKeyShareOneLoad() {
        List<String> seen = new ArrayList<>();
        List<Disposable> readers = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            readers.add(snapshots.get(7).map(Snap::body).subscribe(seen::add));
        }
        assertThat(snapshots.loads()).isEqualTo(1);
        finishLoad(0, 7, "v1");
        assertThat(seen).hasSize(500).containsOnly("v1");
        assertThat(meters.counter("booking.seatmaps.requests", "kind", "test", "result", "wait").count()).isEqualTo(500);
        // Next reads are hits.
        assertThat(read(7)).isEqualTo("v1");
        assertThat(snapshots.loads()).isEqualTo(1);
        assertThat(meters.counter("booking.seatmaps.requests", "kind", "test", "result", "hit").count()).isEqualTo(1);
    }

    @Test
    void aReaderGoingAwayDoesNotCancelTheSharedLoad() {
        Disposable impatient = snapshots.get(1).subscribe();
        List<String> seen = new ArrayList<>();
        snapshots.get(1).map(Snap::body).subscribe(seen::add);
        impatient.dispose();
        finishLoad(0, 1, "v1");
        assertThat(seen).containsExactly("v1");
    }

    @Test
    void expiredSnapshotIsServedWhileOneReloadRunsAndNeverPastTheBound() {
        snapshots.get(1).subscribe();
        finishLoad(0, 1, "v1");

        advanceMs(499);
        assertThat(read(1)).isEqualTo("v1");
        assertThat(snapshots.loads()).as("fresh: no reload").isEqualTo(1);

        advanceMs(1);
        // Past refresh-after: every reader gets v1 at once, and only one reload starts.
        for (int i = 0; i < 100; i++) {
            assertThat(read(1)).isEqualTo("v1");
        }
        assertThat(snapshots.loads()).isEqualTo(2);

        // The reload is slow; once v1 is older than max-stale, readers wait for it rather than get v1.
        advanceMs(501);
        List<String> seen = new ArrayList<>();
        snapshots.get(1).map(Snap::body).subscribe(seen::add);
        snapshots.get(1).map(Snap::body).subscribe(seen::add);
        assertThat(seen).isEmpty();
        assertThat(snapshots.loads()).as("waiting readers join the running reload").isEqualTo(2);
        finishLoad(1, 1, "v2");
        assertThat(seen).containsExactly("v2", "v2");
        assertThat(read(1)).isEqualTo("v2");
    }

    @Test
    void anAnnouncedChangeReloadsSoonerButAtMostOncePerMinReload() {
        snapshots.get(1).subscribe();
        finishLoad(0, 1, "v1");
        snapshots.changed(1);
        assertThat(snapshots.dirty(1)).isTrue();

        advanceMs(50);
        assertThat(read(1)).isEqualTo("v1");
        assertThat(snapshots.loads()).as("younger than min-reload: served, no reload yet").isEqualTo(1);

        advanceMs(50);
        assertThat(read(1)).isEqualTo("v1");
        assertThat(snapshots.loads()).isEqualTo(2);
        // A change during the reload: the new snapshot is dirty at once and reloads again after min-reload.
        advanceMs(10);
        snapshots.changed(1);
        finishLoad(1, 1, "v2");
        assertThat(read(1)).isEqualTo("v2");
        assertThat(snapshots.dirty(1)).isTrue();
        advanceMs(100);
        assertThat(read(1)).isEqualTo("v2");
        assertThat(snapshots.loads()).isEqualTo(3);
        finishLoad(2, 1, "v3");
        assertThat(snapshots.dirty(1)).isFalse();
        assertThat(read(1)).isEqualTo("v3");
    }

    @Test
    void changesOfOtherKeysDoNotReload() {
        snapshots.get(1).subscribe();
        finishLoad(0, 1, "v1");
        snapshots.changed(2);
        advanceMs(200);
        assertThat(read(1)).isEqualTo("v1");
        assertThat(snapshots.loads()).isEqualTo(1);
    }

    @Test
    void aFailedLoadFailsItsWaitersAndTheNextReadRetries() {
        List<Throwable> errors = new ArrayList<>();
        snapshots.get(1).subscribe(v -> { }, errors::add);
        pending.get(0).tryEmitError(new IllegalStateException("db down"));
        assertThat(errors).hasSize(1);
        snapshots.get(1).subscribe();
        assertThat(snapshots.loads()).isEqualTo(2);
        finishLoad(1, 1, "v1");
        assertThat(read(1)).isEqualTo("v1");
    }

    @Test
    void missingKeysAreEmptyAndNotCached() {
        List<String> seen = new ArrayList<>();
        snapshots.get(9).map(Snap::body).defaultIfEmpty("none").subscribe(seen::add);
        pending.get(0).tryEmitEmpty();
        assertThat(seen).containsExactly("none");
        snapshots.get(9).subscribe();
        assertThat(snapshots.loads()).as("a missing key is asked again, not remembered").isEqualTo(2);
    }

    @Test
    void memoryIsBoundedByWeight() {
        Snapshots<Snap> small = new Snapshots<>("small", SeatMapProperties.defaults(), 10_000,
                (key, started) -> Mono.just(new Snap(key, "x".repeat(1_000), started)), now::get, meters);
        for (long key = 0; key < 100; key++) {
            assertThat(small.get(key).map(Snap::body).block()).hasSize(1_000);
        }
        assertThat(small.cachedBytes()).isLessThanOrEqualTo(10_000).isGreaterThan(0);
        assertThat(meters.get("booking.seatmaps.bytes").tag("kind", "small").gauge().value()).isLessThanOrEqualTo(10_000);
        // An evicted key simply loads again.
        assertThat(small.get(0).map(Snap::body).block()).hasSize(1_000);
    }

    @Test
    void aLoaderThatThrowsDoesNotLeaveTheKeyLoading() {
        AtomicLong calls = new AtomicLong();
        Snapshots<Snap> flaky = new Snapshots<>("flaky", SeatMapProperties.defaults(), 1_000_000, (key, started) -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("bug");
            }
            return Mono.just(new Snap(key, "ok", started));
        }, now::get, new SimpleMeterRegistry());
        List<Throwable> errors = new ArrayList<>();
        flaky.get(1).subscribe(v -> { }, errors::add);
        assertThat(errors).hasSize(1);
        assertThat(flaky.get(1).map(Snap::body).block()).isEqualTo("ok");
    }

    @Test
    void aSlowLoadMakesChangeDrivenReloadsRarer() {
        snapshots.get(1).subscribe();
        advanceMs(200); // the load took 200 ms
        finishLoad(0, 1, "v1");
        snapshots.changed(1);
        advanceMs(199); // age 399 ms: past min-reload, not yet twice the load's 200 ms
        assertThat(read(1)).isEqualTo("v1");
        assertThat(snapshots.loads()).isEqualTo(1);
        advanceMs(1);
        assertThat(read(1)).isEqualTo("v1");
        assertThat(snapshots.loads()).isEqualTo(2);
    }
}
