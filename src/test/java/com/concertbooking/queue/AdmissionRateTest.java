package com.concertbooking.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The estimator on a test clock: only time while admission runs counts (issue 17's "8 min 50 s for 9 s"). */
class AdmissionRateTest {

    /** A clock the test moves. */
    static final class TestClock extends Clock {
        private Instant now = Instant.parse("2026-12-01T10:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneId.of("UTC");
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private final TestClock clock = new TestClock();
    private final AdmissionRate rate = new AdmissionRate(clock);
    private long total;

    /**
     * Ticks every 500 ms for {@code seconds}: the first step reports the change of state, and from then on each half
     * second admits {@code perSecond / 2} while running (as the admission steps do).
     */
    private void run(int seconds, int perSecond, boolean running) {
        rate.observe(total, running);
        for (int i = 0; i < seconds * 2; i++) {
            clock.advance(Duration.ofMillis(500));
            if (running) {
                total += perSecond / 2;
            }
            rate.observe(total, running);
        }
    }

    @Test
    void nothingIsKnownBeforeASecondOfRunning() {
        assertThat(rate.perSecond()).isEmpty();
        rate.observe(0, true);
        clock.advance(Duration.ofMillis(500));
        rate.observe(25, true);
        assertThat(rate.perSecond()).isEmpty();
    }

    @Test
    void aPauseAddsNoTime() {
        rate.observe(0, true);
        run(10, 50, true);
        assertThat(rate.perSecond()).hasValueCloseTo(50.0, within(0.01));
        // Five minutes paused: the old estimator divided by them and read 1.6/s (so "8 min 50 s" for a 9 s wait).
        run(300, 50, false);
        assertThat(rate.perSecond()).hasValueCloseTo(50.0, within(0.01));
        // Running again at the same pace: still 50/s, so 450 in line wait 9 s.
        run(9, 50, true);
        assertThat(rate.perSecond()).hasValueCloseTo(50.0, within(0.01));
        assertThat(450 / rate.perSecond().getAsDouble()).isCloseTo(9, within(0.01));
    }

    @Test
    void admissionsMadeWhileNotRunningDoNotCount() {
        rate.observe(0, true);
        run(4, 20, true);
        // Cap full for a minute: an operator admits 1,000 by hand meanwhile; the running rate does not jump.
        rate.observe(total, false);
        clock.advance(Duration.ofSeconds(30));
        total += 1000;
        rate.observe(total, false);
        clock.advance(Duration.ofSeconds(30));
        run(4, 20, true);
        assertThat(rate.perSecond()).hasValueCloseTo(20.0, within(0.01));
    }

    @Test
    void theRateFollowsTheLastMinuteOfRunning() {
        rate.observe(0, true);
        run(60, 100, true);
        run(60, 10, true);
        assertThat(rate.perSecond()).hasValueCloseTo(10.0, within(0.5));
        // A change of pace shows within the window.
        run(30, 40, true);
        assertThat(rate.perSecond()).hasValueCloseTo(25.0, within(1.0));
    }
}
