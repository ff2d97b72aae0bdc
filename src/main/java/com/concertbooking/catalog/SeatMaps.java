package com.concertbooking.catalog;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

import com.concertbooking.catalog.CatalogController.SeatMap;
import com.concertbooking.catalog.CatalogController.SeatView;
import com.concertbooking.booking.SeatsChanged;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import org.springframework.transaction.event.TransactionalEventListener;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import tools.jackson.core.JsonGenerator;
import tools.jackson.databind.ObjectMapper;

/**
 * Seat maps and free-seat counts from memory (issue 10, SPEC section 8: display data at most 1 s stale; holds are
 * decided by the database). Per date, the seat-map response is built from the seats in memory ({@link SeatAvailability}) and serialised once per version, both variants
 * ({@code status=all} and the default available-only one), and written as-is to every fan of that date; per
 * concert, so is the dates listing with its free-seat counts. {@link Snapshots} bounds staleness, loads each key
 * once however many fans ask, and keeps serving the previous version while the next one loads.
 * <p>
 * The seat owner announces every committed seat change ({@link SeatsChanged}, taken after commit). The change marks the
 * date (and its concert's listing) dirty here at once and reaches the other instances through one Redis pub/sub
 * message per {@code publish-interval} (plain PUBLISH on {@value #CHANNEL}, like the catalog invalidations: on a
 * Redis Cluster it is broadcast to every node, which the coalescing keeps to a few messages per second per
 * instance). Redis is only a shortcut: snapshots are reloaded after {@code refresh-after} anyway, and never
 * served past {@code max-stale}, so a lost message or Redis being down costs freshness within the bound, never
 * an error.
 */
@Component
class SeatMaps implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(SeatMaps.class);
    static final String CHANNEL = "catalog:seats-changed";
    private static final Duration REDIS_TIMEOUT = Duration.ofMillis(300);
    /** Cold listings that wait at the same moment share one statement, up to this many concerts. */
    private static final int LISTING_BATCH = 64;
    /** Listing statements at a time: one that finds a free place goes out at once, alone. */
    private static final int LISTING_STATEMENTS = 4;

    /** A date's seat map, both variants pre-serialised, each also gzipped once. Version = load start. */
    record SeatMapSnapshot(long concertDateId, long concertId, byte[] all, byte[] available, byte[] allGzip,
                           byte[] availableGzip, int freeSeats, long loadStartedNanos) implements Snapshots.Versioned {
        @Override
        public int weight() {
            return all.length + available.length + allGzip.length + availableGzip.length + 64;
        }

        byte[] json(boolean onlyFree, boolean gzip) {
            return gzip ? (onlyFree ? availableGzip : allGzip) : (onlyFree ? available : all);
        }
    }

    /** Maps of big venues are megabytes of repetitive JSON; gzip (fastest level) shrinks them about tenfold, once per version. */
    static byte[] gzip(byte[] body) {
        var out = new java.io.ByteArrayOutputStream(Math.max(64, body.length / 8));
        try (var zip = new java.util.zip.GZIPOutputStream(out, 8192) {
            {
                def.setLevel(java.util.zip.Deflater.BEST_SPEED);
            }
        }) {
            zip.write(body);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // in memory: does not happen
        }
        return out.toByteArray();
    }

    /** A concert's upcoming dates with free-seat counts, pre-serialised. */
    record DatesSnapshot(long concertId, byte[] json, long loadStartedNanos) implements Snapshots.Versioned {
        @Override
        public int weight() {
            return json.length + 64;
        }
    }

    private final CatalogStore store;
    private final SeatAvailability availability;
    private final ObjectMapper json;
    private final ReactiveStringRedisTemplate redis;
    private final Clock clock;
    private final SeatMapProperties settings;
    private final Snapshots<SeatMapSnapshot> seatMaps;
    private final Snapshots<DatesSnapshot> dateLists;
    private final ListingBatches listings;
    /** Which concert's listing a date belongs to (learnt from loads), so a seat change also dirties the counts. */
    private final Cache<Long, Long> concertOfDate = Caffeine.newBuilder().maximumSize(200_000).build();
    private final String instanceId = UUID.randomUUID().toString().substring(0, 8);
    private final Set<Long> unpublished = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean publishScheduled = new AtomicBoolean();
    private final ChannelListener listener;

    @Autowired
    SeatMaps(CatalogStore store, SeatAvailability availability, ObjectMapper json, ReactiveStringRedisTemplate redis, MeterRegistry meters,
             Clock clock, SeatMapProperties settings) {
        this(store, availability, json, redis, meters, clock, settings, System::nanoTime);
    }

    SeatMaps(CatalogStore store, SeatAvailability availability, ObjectMapper json, ReactiveStringRedisTemplate redis, MeterRegistry meters,
             Clock clock, SeatMapProperties settings, LongSupplier nanos) {
        this.store = store;
        this.availability = availability;
        availability.onChange(this::markChanged);
        this.json = json;
        this.redis = redis;
        this.listener = new ChannelListener(redis, CHANNEL, this::received);
        this.clock = clock;
        this.settings = settings;
        this.seatMaps = new Snapshots<>("seats", settings, settings.maxBytes().toBytes(), this::loadSeatMap, nanos, meters);
        // Listings are small (a few dates per concert): a sixteenth of the budget holds thousands of concerts.
        this.listings = new ListingBatches(ids -> store.listings(ids, clock.instant()), LISTING_BATCH, LISTING_STATEMENTS,
                settings.loadTimeout());
        this.dateLists = new Snapshots<>("dates", settings, Math.max(1, settings.maxBytes().toBytes() / 16), this::loadDates, nanos, meters);
    }

    /** Listens to its Redis channel while running (see {@link ChannelListener}). */
    @Override
    public void start() {
        listen();
    }

    void listen() {
        listener.start();
    }

    @Override
    public void stop() {
        listener.stop();
    }

    @Override
    public boolean isRunning() {
        return listener.isRunning();
    }

    /**
     * The seat owner's committed changes (after commit: a rolled-back change is never announced): marks the date and
     * its listing changed, here and on the other instances, and hands the seats to the availability log.
     */
    @TransactionalEventListener(fallbackExecution = true)
    void on(SeatsChanged event) {
        changed(event.concertDateId());
        availability.submit(event);
    }

    /** A change of this date's seats (here: the seat owner's event). Non-blocking. */
    void changed(long concertDateId) {
        markChanged(concertDateId);
        unpublished.add(concertDateId);
        if (publishScheduled.compareAndSet(false, true)) {
            Mono.delay(settings.publishInterval()).then(Mono.defer(this::publish))
                    .onErrorResume(e -> {
                        publishScheduled.set(false);
                        return Mono.empty();
                    })
                    .subscribe();
        }
    }

    private void markChanged(long concertDateId) {
        seatMaps.changed(concertDateId);
        Long concertId = concertOfDate.getIfPresent(concertDateId);
        if (concertId != null) {
            dateLists.changed(concertId);
        }
    }

    /** One message for all dates changed here since the last one: "{instance} {id},{id},...". */
    private Mono<Void> publish() {
        publishScheduled.set(false); // before draining: a change added after this schedules the next message
        List<Long> dates = new ArrayList<>(unpublished);
        unpublished.removeAll(dates);
        seatMaps.forgetOldChanges();
        dateLists.forgetOldChanges();
        if (dates.isEmpty()) {
            return Mono.empty();
        }
        StringBuilder message = new StringBuilder(instanceId).append(' ');
        for (int i = 0; i < dates.size(); i++) {
            message.append(i == 0 ? "" : ",").append(dates.get(i));
        }
        return redis.convertAndSend(CHANNEL, message.toString())
                .timeout(REDIS_TIMEOUT)
                .onErrorResume(e -> {
                    log.debug("seat change announcement failed (other instances refresh within {}): {}", settings.refreshAfter(), e.toString());
                    return Mono.empty();
                })
                .then();
    }

    private void received(String message) {
        int space = message.indexOf(' ');
        if (space <= 0 || message.startsWith(instanceId + " ")) {
            return; // our own (already marked) or not ours to read
        }
        for (String id : message.substring(space + 1).split(",")) {
            try {
                markChanged(Long.parseLong(id));
            } catch (NumberFormatException e) {
                log.debug("ignored seat change message part '{}'", id);
            }
        }
    }

    /** A date's seat map (its concert, and the responses as JSON bytes); empty when the date does not exist. */
    Mono<SeatMapSnapshot> seatMap(long concertDateId) {
        return seatMaps.get(concertDateId);
    }

    Mono<byte[]> seatMapJson(long concertDateId, boolean onlyFree) {
        return seatMap(concertDateId).map(s -> s.json(onlyFree, false));
    }

    /** The dates-listing response of a concert, as JSON bytes; empty when the concert does not exist. */
    Mono<byte[]> datesJson(long concertId) {
        return dateLists.get(concertId).map(DatesSnapshot::json);
    }

    /** Built from the date's seats in memory (SeatAvailability), not read from the database. */
    private Mono<SeatMapSnapshot> loadSeatMap(long concertDateId, long started) {
        return availability.date(concertDateId)
                // Serialising 50,000 seats takes milliseconds of CPU: not on an I/O thread.
                .publishOn(Schedulers.parallel())
                .map(date -> {
                    concertOfDate.put(concertDateId, date.concertId);
                    // Free means free at this instant: a hold running out later shows within the staleness bound.
                    List<SeatView> all = date.views(clock.millis(), false, null);
                    List<SeatView> available = new ArrayList<>(all.size());
                    for (SeatView view : all) {
                        if ("AVAILABLE".equals(view.status())) {
                            available.add(view);
                        }
                    }
                    byte[] allJson = json.writeValueAsBytes(new SeatMap(concertDateId, all));
                    byte[] availableJson = json.writeValueAsBytes(new SeatMap(concertDateId, available));
                    return new SeatMapSnapshot(concertDateId, date.concertId, allJson, availableJson, gzip(allJson),
                            gzip(availableJson), available.size(), started);
                });
    }

    /** One grade of a date's seats, built per request from the seats in memory (small next to the whole map). */
    Mono<SeatMapSnapshot> seatMapOfGrade(long concertDateId, String grade) {
        return availability.date(concertDateId)
                .publishOn(Schedulers.parallel())
                .map(date -> {
                    List<SeatView> all = date.views(clock.millis(), false, grade);
                    List<SeatView> available = all.stream().filter(v -> "AVAILABLE".equals(v.status())).toList();
                    byte[] allJson = json.writeValueAsBytes(new SeatMap(concertDateId, all));
                    byte[] availableJson = json.writeValueAsBytes(new SeatMap(concertDateId, available));
                    return new SeatMapSnapshot(concertDateId, date.concertId, allJson, availableJson, gzip(allJson),
                            gzip(availableJson), available.size(), 0);
                });
    }

    /**
     * One statement (CatalogStore#listings: the concert, its upcoming dates, venues and free-seat counts), shared with
     * the other listings loading at the same moment when the database is busy (ListingBatches), and no other round trip: the snapshot is this instance's only copy. A copy shared through Redis would have to be younger than
     * {@code max-stale} (1 s) to be served, so it would rarely save the read and would cost a Redis round trip on every
     * miss. An unknown concert is not remembered (Snapshots keeps no empty result), so a concert the admin API has just
     * created is listed at once on every instance; admin changes need no invalidation here.
     */
    private Mono<DatesSnapshot> loadDates(long concertId, long started) {
        return listings.load(concertId).mapNotNull(rows -> rows.isEmpty() ? null : datesSnapshot(concertId, rows, started));
    }

    /**
     * The listing's JSON ({@link CatalogController.UpcomingDates}), written field by field: the same bytes the mapper writes for that
     * record (CatalogApiTest pins them), without building the records first.
     */
    private DatesSnapshot datesSnapshot(long concertId, List<CatalogStore.ListingRow> rows, long started) {
        var out = new java.io.ByteArrayOutputStream(48 + 160 * rows.size());
        try (JsonGenerator g = json.createGenerator(out)) {
            g.writeStartObject();
            g.writeNumberProperty("concertId", concertId);
            g.writeArrayPropertyStart("dates");
            for (CatalogStore.ListingRow row : rows) {
                if (row.concertDateId() == 0) {
                    continue; // the concert's own row: it has no upcoming date
                }
                concertOfDate.put(row.concertDateId(), concertId);
                g.writeStartObject();
                g.writeNumberProperty("concertDateId", row.concertDateId());
                g.writeStringProperty("startsAt", row.startsAt().toString()); // ISO-8601 (ISO_INSTANT), as the mapper writes an Instant
                g.writeStringProperty("venue", row.venue());
                g.writeNumberProperty("totalSeats", row.totalSeats());
                g.writeNumberProperty("availableSeats", row.freeSeats());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        return new DatesSnapshot(concertId, out.toByteArray(), started);
    }

    // Test hooks (package-private).

    long seatMapLoads() {
        return seatMaps.loads();
    }

    /** Completed loads of dates that had no snapshot at all (a cold date read by many at once: one). */
    long seatMapColdLoads() {
        return seatMaps.loads(Snapshots.Cause.COLD);
    }

    long datesColdLoads() {
        return dateLists.loads(Snapshots.Cause.COLD);
    }

    /** Listing statements started so far (several cold listings may share one). */
    long listingStatements() {
        return listings.statements();
    }

    boolean seatMapDirty(long concertDateId) {
        return seatMaps.dirty(concertDateId);
    }
}
