package com.concertbooking.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.Disposable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What the operator console reads from GET /admin/queues/{id} beyond the SPEC fields: the oldest wait, the
 * estimated waits across the line, and the streams open on this instance.
 */
class QueueConsoleViewTest extends QueueTestSupport {

    @Autowired
    private QueueStreams streams;

    @Test
    void emptyQueueHasNoOldestWaitAndNoEstimates() {
        long concert = newConcert();
        pause(concert);
        Map<?, ?> view = queueView(concert);
        assertThat(view.get("waiting")).isEqualTo(0);
        assertThat(view.get("oldestWaitSeconds")).isNull();
        @SuppressWarnings("unchecked")
        Map<String, Object> estimates = (Map<String, Object>) view.get("estimatedWaitSeconds");
        assertThat(estimates).containsEntry("p50", null).containsEntry("max", null);
        assertThat(view.get("openStreams")).isEqualTo(0);
    }

    @Test
    void estimatesAcrossTheLineAreWhatTheFansThemselvesAreTold() {
        long concert = newConcert();
        // One per tick but a cap of zero: nobody moves. The console and the fans say so (CAP_FULL) instead of a time.
        policy(concert, Map.of("admitPerTick", 1, "maxActive", 0));
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            tokens.add(token(freshUserId(), concert));
        }
        Map<?, ?> view = queueView(concert);
        assertThat(view.get("waiting")).isEqualTo(10);
        assertThat(view.get("admission")).isEqualTo("CAP_FULL");
        @SuppressWarnings("unchecked")
        Map<String, Object> estimates = (Map<String, Object>) view.get("estimatedWaitSeconds");
        assertThat(estimates).containsEntry("p50", null).containsEntry("max", null);
        Map<?, ?> fifth = statusBody(tokens.get(4));
        assertThat(fifth.get("admission")).isEqualTo("CAP_FULL");
        assertThat(fifth.get("estimatedWaitSeconds")).isNull();

        // Room again: admission runs at one per 1 s tick, and whoever stands at position p is told about p seconds,
        // on the console as on their own page (the line moves while we read, so within a tick of each other).
        policy(concert, Map.of("admitPerTick", 1, "maxActive", 1000));
        Map<?, ?> running = queueView(concert);
        assertThat(running.get("admission")).isEqualTo("RUNNING");
        @SuppressWarnings("unchecked")
        Map<String, Object> now = (Map<String, Object>) running.get("estimatedWaitSeconds");
        long waiting = num(running.get("waiting"));
        assertThat(num(now.get("max"))).isBetween(waiting - 1, waiting + 1);
        assertThat(num(now.get("p50"))).isBetween((waiting + 1) / 2 - 1, (waiting + 1) / 2 + 1);
        Map<?, ?> last = statusBody(tokens.get(9));
        assertThat(last.get("admission")).isEqualTo("RUNNING");
        assertThat(num(last.get("estimatedWaitSeconds"))).isBetween(num(last.get("position")) - 1, num(last.get("position")) + 1);
    }

    @Test
    void oldestWaitGrowsWithTheFirstInLineAndFollowsTheFront() {
        long concert = newConcert();
        pause(concert);
        long first = freshUserId();
        long started = System.currentTimeMillis();
        token(first, concert);
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
                .until(() -> queueView(concert).get("oldestWaitSeconds") instanceof Number n && n.longValue() >= 2);
        long oldest = num(queueView(concert).get("oldestWaitSeconds"));
        assertThat(oldest).isBetween(2L, (System.currentTimeMillis() - started) / 1000 + 1);

        // A newcomer behind; once the first is admitted, the oldest wait is the newcomer's (much shorter).
        token(freshUserId(), concert);
        assertThat(admit(concert, 1)).isEqualTo(1);
        assertThat(num(queueView(concert).get("oldestWaitSeconds"))).isLessThan(2);
        assertThat(admit(concert, 1)).isEqualTo(1);
        assertThat(queueView(concert).get("oldestWaitSeconds")).isNull();
    }

    @Test
    void openStreamsCountsThisConcertsStreamsOnThisInstance() {
        long concert = newConcert();
        pause(concert);
        String token = token(freshUserId(), concert);
        Disposable stream = racingClient().get().uri("/api/v1/queues/stream?token={t}", token).retrieve()
                .bodyToFlux(new ParameterizedTypeReference<ServerSentEvent<String>>() {}).subscribe();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> num(queueView(concert).get("openStreams")) == 1);
            assertThat(streams.openStreams(concert)).isEqualTo(1);
        } finally {
            stream.dispose();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> num(queueView(concert).get("openStreams")) == 0);
    }
}
