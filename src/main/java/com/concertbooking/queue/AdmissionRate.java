package com.concertbooking.queue;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.OptionalDouble;

/**
 * The admission rate a queue showed while it was running, for wait estimates (issue 17: after a 5-minute pause the
 * old estimate divided by paused time too, and read "8 min 50 s" for a 9 s wait). Time counts only while admission
 * is RUNNING with someone waiting; paused, cap-full, sold-out and empty stretches add neither time nor admissions.
 * Each instance keeps one per concert it ticks, fed by every admission step it runs (won or lost: both report the
 * concert's admitted total), so no shared history is needed; durations come from the instance's clock.
 */
final class AdmissionRate {

    /** Running time the rate is taken over. */
    static final Duration WINDOW = Duration.ofSeconds(60);
    /** Less running time than this says nothing yet. */
    static final Duration MIN_SPAN = Duration.ofSeconds(1);

    private record Sample(long runningMs, long admitted) {}

    private final Clock clock;
    private final ArrayDeque<Sample> samples = new ArrayDeque<>();
    private long lastAtMs = -1;
    private long lastTotal;
    private boolean lastRunning;
    private long runningMs;
    private long runningAdmitted;

    AdmissionRate(Clock clock) {
        this.clock = clock;
    }

    /**
     * One observation: the concert's admitted total now, and whether admission is running from now on. The stretch
     * since the previous observation counts (time and admissions) if admission was running during it.
     */
    synchronized void observe(long admittedTotal, boolean running) {
        long now = clock.millis();
        if (lastAtMs >= 0 && lastRunning) {
            runningMs += Math.max(0, now - lastAtMs);
            runningAdmitted += Math.max(0, admittedTotal - lastTotal);
            samples.addLast(new Sample(runningMs, runningAdmitted));
            // Keep one sample at or before the window's start as the base.
            while (samples.size() > 1) {
                Sample first = samples.removeFirst();
                if (runningMs - samples.peekFirst().runningMs() < WINDOW.toMillis()) {
                    samples.addFirst(first);
                    break;
                }
            }
        } else if (samples.isEmpty()) {
            samples.addLast(new Sample(runningMs, runningAdmitted));
        }
        lastAtMs = now;
        lastTotal = admittedTotal;
        lastRunning = running;
    }

    /** Admissions per second over the last minute of running time; empty until a second of it was seen. */
    synchronized OptionalDouble perSecond() {
        if (samples.isEmpty()) {
            return OptionalDouble.empty();
        }
        Sample base = samples.peekFirst();
        long span = runningMs - base.runningMs();
        if (span < MIN_SPAN.toMillis()) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of((runningAdmitted - base.admitted()) * 1000.0 / span);
    }
}
