package com.concertbooking.web;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.interactions.Actions;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SPEC section 12 in a real browser against the real service: the fan page at / and the operator page at /ops.
 * One flow, as people would go through it: the operator creates a concert and pauses its queue; a fan signs in,
 * joins, watches the position; the stream is cut server-side and comes back by itself with the same place; the
 * operator resumes; the fan sees admission without reloading, holds a seat by keyboard, watches the countdown;
 * a second fan on a phone-sized screen tries the same seat and reads why not; the first fan pays (double click)
 * and sees the reservation paid and the balance lower, charged once. No console errors but the expected refusal.
 */
class WebPagesBrowserTest extends IntegrationTest {

    private static final String PASSWORD = "correct horse battery staple";
    private static Browser browser;

    /** The queue's SSE hub, by its lifecycle only: stopping it cuts every open stream server-side. */
    @Autowired
    @org.springframework.beans.factory.annotation.Qualifier("queueStreams")
    private org.springframework.context.Lifecycle streams;

    @BeforeEach
    void openBrowser() {
        if (browser == null) {
            browser = Browser.start(port);
        }
    }

    @AfterAll
    static void closeBrowser() {
        if (browser != null) {
            browser.close();
        }
    }

    @Test
    void fanBooksThroughTheQueueWhileTheOperatorControlsIt() {
        String fan = unique("fan");
        String rival = unique("rival");
        String concertName = unique("Browser Live");

        // The operator creates a concert with one date and two seat blocks, then pauses its queue.
        browser.window("operator", "/ops");
        browser.type("credential", ADMIN_KEY);
        browser.click("#sign-in-button");
        browser.byId("create-name").sendKeys(concertName);
        browser.byId("create-description").sendKeys("Made in the browser test");
        String startsAt = LocalStart.inDays(20);
        WebElement starts = browser.find("#create-dates .starts");
        browser.script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", starts, startsAt);
        browser.find("#create-dates .venue").sendKeys("Test Hall");
        List<WebElement> counts = browser.driver().findElements(org.openqa.selenium.By.cssSelector("#create-dates .count"));
        counts.get(0).clear();
        counts.get(0).sendKeys("6");
        counts.get(1).clear();
        counts.get(1).sendKeys("10");
        browser.click("#create-button");
        String created = browser.waitText("#create-message", "Created concert #");
        Matcher m = Pattern.compile("#(\\d+)").matcher(created);
        assertThat(m.find()).isTrue();
        long concertId = Long.parseLong(m.group(1));
        assertThat(created).contains("16 seats");
        browser.waitText("#queue-title", concertName);
        browser.waitText("#queue-state", "Admitting");
        browser.click("#pause");
        browser.waitText("#queue-state", "Paused");
        browser.step("01-operator-paused");

        long fanId = createFan(fan, 500_000);
        createFan(rival, 500_000);

        // The fan signs in, opens the concert's link, sees its date with free seats and joins the paused queue.
        signIn("fan", fan);
        browser.waitText("#balance", "500,000 won");
        browser.window("fan", "/#concert-" + concertId);
        browser.waitText("#concerts", "16 of 16 seats free");
        browser.step("02-fan-concert");
        browser.click("#concerts button[data-concert='" + concertId + "']");
        browser.waitText("#queue-position", "1");
        browser.waitText("#queue-wait", "paused");
        browser.waitText("#queue-connection", "Live");
        browser.step("03-fan-waiting");
        String queueToken = (String) browser.script("return JSON.parse(sessionStorage.getItem('queue')).token");

        // The operator sees the fan waiting, with the live figures.
        browser.switchTo("operator");
        browser.waitText("#stat-waiting", "1");
        browser.waitText("#stat-streams", "1");
        browser.waitText("#stat-oldest", t -> t.endsWith(" s"), "an oldest wait in seconds");
        browser.step("03-operator-fan-waiting");

        // The stream is cut server-side: the page notices and reconnects by itself with the same token and place.
        browser.switchTo("fan");
        streams.stop();
        streams.start();
        browser.waitText("#queue-connection", "reconnecting");
        await().atMost(Duration.ofSeconds(20)).until(() -> ((Number) asAdmin().get().uri("/api/v1/admin/queues/{id}", concertId).exchange()
                .expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody().get("openStreams")).intValue() == 1);
        browser.waitText("#queue-connection", "Live");
        browser.waitText("#queue-position", "1");
        assertThat(browser.script("return JSON.parse(sessionStorage.getItem('queue')).token")).isEqualTo(queueToken);
        browser.step("04-fan-reconnected");

        // The operator resumes admission; the fan's page turns to the seat map without a reload.
        browser.switchTo("operator");
        browser.click("#resume");
        browser.waitText("#queue-state", "Admitting");
        browser.waitText("#stat-active", t -> t.startsWith("1 /"), "one active fan");
        browser.step("05-operator-resumed");
        browser.switchTo("fan");
        browser.waitText("#admitted", "You're in!");
        browser.waitText("#seat-summary", "16 of 16 seats free");
        browser.step("06-fan-admitted");

        // By keyboard: focus the first VIP seat, arrow right twice to seat 3, Enter picks it; then hold it.
        WebElement first = browser.find("#seat-map .seat[data-seat='1']");
        browser.script("arguments[0].focus()", first);
        new Actions(browser.driver()).sendKeys(Keys.ARROW_RIGHT).sendKeys(Keys.ARROW_RIGHT).sendKeys(Keys.ENTER).perform();
        browser.waitText("#selection-text", "Seat 3 · 150,000 won");
        browser.click("#hold-button");
        String countdown = browser.waitText("#hold-countdown", t -> t.matches("[45]:\\d\\d"), "a countdown near 5 minutes");
        browser.waitText("#hold-countdown", t -> !t.equals(countdown) && t.matches("\\d:\\d\\d"), "the countdown moving");
        browser.waitText("#seat-summary", "15 of 16 seats free");
        browser.waitText("#reservations", "Held");
        browser.step("07-fan-hold");

        // The map came in two parts (SPEC 8): the date's layout once, the free seats in full once, then only what
        // changed since the version the page had (the held seat shows taken after such a refresh); never the JSON seat list.
        browser.find("#seat-map .seat.taken[data-seat='3']");
        assertMapFetchedAsLayoutAndAvailability();

        // A second fan, on a phone-sized screen, gets in and tries the same seat: the page says it is taken.
        browser.window("rival", "/");
        browser.size(390, 844);
        signIn("rival", rival);
        browser.window("rival", "/#concert-" + concertId);
        browser.click("#concerts button[data-concert='" + concertId + "']");
        browser.waitText("#admitted", "You're in!");
        browser.waitText("#seat-summary", "15 of 16 seats free");
        browser.click("#seat-map .seat.taken[data-seat='3']");
        browser.click("#hold-button");
        browser.waitText("#booking-message", "someone else has just taken this seat");
        browser.step("08-rival-seat-taken-phone");

        // The first fan pays with a double click: one payment, reservation PAID, balance 150,000 lower.
        browser.switchTo("fan");
        new Actions(browser.driver()).doubleClick(browser.byId("pay-button")).perform();
        browser.waitText("#confirmation-title", "Booked!");
        browser.waitText("#reservations [data-status='PAID']", "Paid");
        browser.waitText("#balance", "350,000 won");
        browser.step("09-fan-paid");
        assertThat(balance(fan, fanId)).isEqualTo(350_000);
        browser.switchTo("operator");
        browser.waitText("#stat-active", t -> t.startsWith("1 /"), "the payer's slot freed, the rival active");
        browser.step("10-operator-after-payment");

        // No console errors, but the rival's expected 409 for the taken seat.
        assertThat(browser.consoleErrors("fan")).isEmpty();
        assertThat(browser.consoleErrors("operator")).isEmpty();
        assertThat(browser.consoleErrors("rival")).allSatisfy(e -> assertThat(e).contains("/api/v1/reservations").contains("409"));
    }

    @Test
    void fanReadsTheServicesWordsForEveryRefusal() {
        String fan = unique("fan");
        createFan(fan, 0);

        browser.window("words", "/");
        browser.type("username", fan);
        browser.type("password", "not the password");
        browser.click("#sign-in-button");
        browser.waitText("#sign-in-message", "That username and password do not match");

        browser.type("password", PASSWORD);
        browser.click("#sign-in-button");
        browser.waitText("#balance", "0 won");
        browser.waitText("#reservations", "No reservations yet.");

        // The page checks nothing itself: the service's validation speaks, with its own detail beneath.
        browser.type("top-up-amount", "lots");
        browser.click("#top-up-button");
        browser.waitText("#wallet-message", "Please check what you entered");
        browser.type("top-up-amount", "20000000");
        browser.click("#top-up-button");
        browser.waitText("#wallet-message", "Please check what you entered");
        browser.type("top-up-amount", "25,000");
        browser.click("#top-up-button");
        browser.waitText("#wallet-message", "Your balance is now 25,000 won");
        browser.waitText("#balance", "25,000 won");
        browser.step("11-fan-top-up");
        assertThat(browser.consoleErrors("words")).allSatisfy(e -> assertThat(e).containsAnyOf("/api/v1/auth/login", "/api/v1/users/"));
    }

    /**
     * Issue 17 in the browser: a scheduled sale. The fan arrives before the pre-queue opens and sees a countdown on the
     * service's clock, is registered by the page itself when it opens, reads the draw's commitment and the queue ID;
     * the operator sees the same commitment, posts a message the fan reads, looks the fan up by queue ID and brings
     * the opening forward; at the opening the fan sees the moment of the draw and the place it gave, then the seat map;
     * the operator sees the revealed seed and the cohort size.
     */
    @Test
    void fanWaitsForAScheduledSaleFromTheCountdownThroughTheDrawToTheSeatMap() {
        String fan = unique("early");
        createFan(fan, 200_000);
        Instant prequeue = Instant.now().plusSeconds(25).truncatedTo(ChronoUnit.SECONDS);
        Map<String, Object> date = Map.of("startsAt", Instant.now().plus(Duration.ofDays(40)).truncatedTo(ChronoUnit.SECONDS).toString(),
                "venue", "Draw Hall", "seats", List.of(Map.of("grade", "R", "price", 90_000, "count", 12)));
        Map<?, ?> created = web.post().uri("/api/v1/admin/concerts").header("X-Admin-Key", ADMIN_KEY).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", unique("Draw Night"), "dates", List.of(date),
                        "sale", Map.of("prequeueOpensAt", prequeue.toString(), "opensAt", prequeue.plusSeconds(3600).toString())))
                .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        long concertId = ((Number) created.get("concertId")).longValue();

        // The operator watches the concert: scheduled, no commitment yet.
        browser.window("sale-operator", "/ops#concert-" + concertId);
        browser.type("credential", ADMIN_KEY);
        browser.click("#sign-in-button");
        browser.waitText("#sale-state", "Scheduled");
        browser.waitText("#sale-commitment", "published when the pre-queue opens");

        // The fan comes early: a countdown to the pre-queue, then the page registers the fan by itself.
        signIn("sale-fan", fan);
        browser.waitText("#balance", "200,000 won");
        browser.window("sale-fan", "/#concert-" + concertId);
        browser.click("#concerts button[data-concert='" + concertId + "']");
        browser.waitText("#upcoming-countdown", t -> t.matches("0:\\d\\d"), "a countdown to the pre-queue");
        browser.step("12-fan-countdown-to-prequeue");
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250))
                .until(() -> browser.driver().findElement(org.openqa.selenium.By.id("queue-prequeue")).isDisplayed());
        browser.waitText("#prequeue-countdown", t -> t.matches("\\d+:\\d\\d:\\d\\d|\\d+:\\d\\d"), "the countdown to the sale");
        String commitment = browser.waitText("#prequeue-commitment", t -> t.matches("[0-9a-f]{64}"), "the draw's commitment");
        String queueId = browser.waitText("#queue-id-value", t -> t.matches("[0-9A-Z]{10}"), "a queue ID");
        browser.waitText("#queue-connection", "Live");
        browser.step("13-fan-prequeue");

        // The operator: the same commitment; a message to the fans; the fan found by queue ID; the opening brought forward.
        browser.switchTo("sale-operator");
        browser.waitText("#sale-state", "Pre-queue open");
        browser.waitText("#sale-commitment", commitment);
        browser.type("message-text", "Doors open at 19:00. Good luck in the draw!");
        browser.click("#message-post");
        browser.waitText("#message-now", "Doors open at 19:00");
        browser.type("lookup-id", queueId.toLowerCase());
        browser.click("#lookup-button");
        browser.waitText("#lookup-result", "in the pre-queue");
        browser.click("#pause"); // the moment of the draw stays on the fan's screen until admission resumes
        browser.waitText("#queue-state", "Paused");
        String opensAt = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss").withZone(ZoneId.systemDefault())
                .format(Instant.now().plusSeconds(12));
        browser.script("arguments[0].value = arguments[1]", browser.byId("sale-form-opens"), opensAt);
        browser.click("#sale-move");
        browser.waitText("#queue-message", "The sale was moved");
        browser.step("14-operator-prequeue-commitment-message-lookup");

        // The fan reads the message, then the opening: the draw's place, then (admission resumed) the seat map.
        browser.switchTo("sale-fan");
        browser.waitText("#queue-operator", "Doors open at 19:00");
        browser.waitText("#prequeue-countdown", t -> t.matches("0:[01]\\d"), "the countdown near the opening");
        browser.waitText("#queue-draw", "the draw is done: you are number 1 in line");
        browser.waitText("#queue-wait", "paused");
        browser.step("15-fan-the-draw");
        browser.switchTo("sale-operator");
        browser.waitText("#sale-seed", t -> t.matches("[0-9a-f]{64}"), "the revealed seed");
        browser.waitText("#sale-cohort", "1");
        browser.waitText("#sale-state", "On sale");
        browser.click("#resume");
        browser.waitText("#queue-state", "Admitting");
        browser.step("16-operator-opened-seed-revealed");
        browser.switchTo("sale-fan");
        browser.waitText("#admitted", "You're in!");
        browser.waitText("#seat-summary", "12 of 12 seats free");
        browser.step("17-fan-seat-map-after-the-draw");

        assertThat(browser.consoleErrors("sale-fan")).allSatisfy(e -> assertThat(e).contains("/api/v1/queues/token").contains("409"));
        assertThat(browser.consoleErrors("sale-operator")).isEmpty();
    }

    /**
     * The fan page's reading of the two-part seat map (SPEC 8, {@code assets/availability.js}), on its own in the
     * browser: the layout's blocks become seats (a gap in the numbering stays a gap), bit n-1 of {@code free}, least
     * significant first in each byte, is seat n, and a {@code since} answer's changes move only their seats.
     */
    @Test
    void theFanPageDecodesTheLayoutAndTheCompactAvailability() {
        browser.window("decoder", "/");
        Object result = browser.driver().executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                import('/assets/availability.js').then(({ applyAvailability, isFree, layoutSeats }) => {
                  const seats = layoutSeats({ concertDateId: 7, concertId: 1, seatCount: 12, grades: ['VIP', 'R'],
                      blocks: [[1, 2, 0, 150000], [3, 4, 1, 100000], [6, 12, 1, 90000]] });
                  const free = (k) => Array.from({ length: 18 }, (_, i) => i + 1).filter((n) => isFree(k.bits, n)).join(',');
                  // bytes 0x05 0x88: seats 1 and 3 (byte 0: bits 0 and 2), 12 and 16 (byte 1: bits 3 and 7)
                  const full = applyAvailability(null, { concertDateId: 7, version: 41, seatCount: 16, free: 'BYg=' });
                  const delta = applyAvailability(full, { concertDateId: 7, version: 44, changes: [[1, 0], [2, 1], [12, 0]] });
                  const again = applyAvailability(delta, { concertDateId: 7, version: 50, seatCount: 16, free: 'AAE=', full: true });
                  done({
                    seats: seats.map((s) => `${s.seatNumber}:${s.grade}:${s.price}`).join(','),
                    full: `${full.version}|${free(full)}|${full.changed}`,
                    delta: `${delta.version}|${free(delta)}|${delta.changed.join(',')}`,
                    untouched: free(full),
                    again: `${again.version}|${free(again)}|${again.changed}`,
                  });
                }).catch((e) => done({ error: String(e) }));
                """);
        assertThat(result).isInstanceOf(Map.class);
        Map<?, ?> decoded = (Map<?, ?>) result;
        assertThat(decoded.get("error")).isNull();
        assertThat(decoded.get("seats")).isEqualTo("1:VIP:150000,2:VIP:150000,3:R:100000,4:R:100000,"
                + "6:R:90000,7:R:90000,8:R:90000,9:R:90000,10:R:90000,11:R:90000,12:R:90000");
        assertThat(decoded.get("full")).isEqualTo("41|1,3,12,16|null");
        assertThat(decoded.get("delta")).isEqualTo("44|2,3,16|1,2,12");
        assertThat(decoded.get("untouched")).as("the answer before a delta is not changed by it").isEqualTo("1,3,12,16");
        assertThat(decoded.get("again")).as("a full answer to a since replaces everything").isEqualTo("50|9|null");
        assertThat(browser.consoleErrors("decoder")).isEmpty();
    }

    static Stream<Arguments> windowSizes() {
        return Stream.of(Arguments.of("desktop", 1280, 900), Arguments.of("phone", 390, 844));
    }

    /**
     * Issue 19, every defect a step, at 1280x900 and at 390x844 (axe-core on each state, no sideways scrolling):
     * the waiting room announces the position politely and renews the sign-in silently; a sign-in that cannot be
     * renewed goes to the form and comes back to the same place with the same pass; the operator in a browser that
     * never saw the queue running cannot resume at 0, sees "Cap reached" with its reason and why "Admit now" let
     * nobody in, and the answers stay until dismissed; admission moves focus and the map's top into view; several
     * seats up to the ticket limit are picked, held and paid with one Pay (one debit) from a bar that stays on
     * screen; the confirmation names everything; "My reservations" groups by concert and date; a hold at 0:00 loses
     * Pay; sign-out leaves nothing of the fan, and the next person's buttons throw nothing.
     */
    @ParameterizedTest(name = "{0} {1}x{2}")
    @MethodSource("windowSizes")
    void boxOfficeFromTheWaitingRoomToTheConfirmation(String size, int width, int height) throws Exception {
        String fan = unique("box");
        String rival = unique("next");
        String concertName = unique("Box Office Night");
        String venue = unique("Grand Hall");
        Map<String, Object> date = Map.of("startsAt", Instant.now().plus(Duration.ofDays(30)).truncatedTo(ChronoUnit.HOURS).toString(),
                "venue", venue, "seats", List.of(Map.of("grade", "VIP", "price", 150_000, "count", 4), Map.of("grade", "R", "price", 100_000, "count", 8)));
        Map<?, ?> created = asAdmin().post().uri("/api/v1/admin/concerts").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", concertName, "description", "Issue 19", "dates", List.of(date)))
                .exchange().expectStatus().isCreated().expectBody(Map.class).returnResult().getResponseBody();
        long concertId = ((Number) created.get("concertId")).longValue();
        // Paused with a cap of one booking fan: the operator's fresh browser has never seen this queue running.
        asAdmin().put().uri("/api/v1/admin/queues/{id}/policy", concertId).contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("admitPerTick", 0, "maxActive", 1)).exchange().expectStatus().isOk();
        long fanId = createFan(fan, 1_000_000);
        long rivalId = createFan(rival, 300_000);
        String fanWindow = "box-" + size;
        String shot = "19-" + size + "-";

        // Waiting room: position 1, "paused", told to screen readers in a polite region; timers are not live regions.
        signIn(fanWindow, fan);
        browser.size(width, height);
        browser.waitText("#balance", "1,000,000 won");
        browser.window(fanWindow, "/#concert-" + concertId);
        browser.waitText("#concerts", "12 of 12 seats free");
        browser.assertAccessible(size + " concerts");
        browser.click("#concerts button[data-concert='" + concertId + "']");
        browser.waitText("#queue-position", "1");
        browser.waitText("#queue-wait", "paused");
        browser.waitText("#queue-connection", "Live");
        assertThat(browser.script("return document.getElementById('queue-announce').getAttribute('aria-live')")).isEqualTo("polite");
        assertThat((String) browser.script("return document.getElementById('queue-announce').textContent")).contains("number 1 in line");
        for (String timer : List.of("admitted-time", "seat-summary", "hold-countdown", "queue-updated", "upcoming-countdown", "prequeue-countdown")) {
            assertThat(browser.script("return document.getElementById(arguments[0]).closest("
                    + "'[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]') === null", timer))
                    .as("#%s is not inside a live region (a screen reader would hear it every second)", timer).isEqualTo(true);
        }
        browser.assertFocus("queue-title", "joining");
        browser.assertAccessible(size + " waiting room");
        browser.assertNoHorizontalScroll(size + " waiting room");
        browser.screenshot(shot + "01-waiting-room");
        String queueToken = (String) browser.script("return JSON.parse(sessionStorage.getItem('queue')).token");

        // Silent renewal: the access token is about to run out; the page renews it with the refresh token before
        // its next call, and the fan stays in the waiting room, same place, no sign-in form.
        String before = (String) browser.script("""
                const a = JSON.parse(sessionStorage.getItem('auth')); a.expiresAt = Date.now() + 20000;
                sessionStorage.setItem('auth', JSON.stringify(a)); return a.accessToken""");
        browser.driver().navigate().refresh();
        browser.waitText("#queue-position", "1");
        await().atMost(Duration.ofSeconds(10)).until(() -> !before.equals(browser.script("return JSON.parse(sessionStorage.getItem('auth')).accessToken")));
        assertThat(browser.driver().findElement(org.openqa.selenium.By.id("sign-in-view")).isDisplayed()).isFalse();
        assertThat(browser.script("return JSON.parse(sessionStorage.getItem('queue')).token")).isEqualTo(queueToken);

        // A sign-in that cannot be renewed (both tokens refused): the form says why and that the place is kept;
        // signing in again returns to the waiting room with the same pass.
        browser.script("""
                const a = JSON.parse(sessionStorage.getItem('auth')); a.accessToken = a.accessToken.slice(0, -6) + 'AAAAAA';
                a.refreshToken = a.refreshToken.slice(0, -6) + 'AAAAAA'; sessionStorage.setItem('auth', JSON.stringify(a));""");
        browser.driver().navigate().refresh();
        browser.waitText("#sign-in-message", "Your sign-in has run out");
        browser.waitText("#sign-in-keep", "Your place in the queue is kept");
        browser.assertAccessible(size + " sign in again");
        browser.assertNoHorizontalScroll(size + " sign in again");
        browser.screenshot(shot + "02-sign-in-again-place-kept");
        browser.type("password", PASSWORD);
        browser.click("#sign-in-button");
        browser.waitText("#queue-position", "1");
        browser.waitText("#queue-wait", "paused");
        assertThat(browser.script("return JSON.parse(sessionStorage.getItem('queue')).token")).isEqualTo(queueToken);

        // The operator, in a browser that never saw this queue running: Resume cannot send 0; with a rate typed it resumes.
        String ops = "box-ops-" + size;
        browser.window(ops, "/ops#concert-" + concertId);
        browser.size(width, height);
        if (browser.driver().findElements(org.openqa.selenium.By.id("credential")).stream().anyMatch(WebElement::isDisplayed)) {
            browser.type("credential", ADMIN_KEY);
            browser.click("#sign-in-button");
        }
        browser.waitText("#queue-state", "Paused");
        browser.waitText("#queue-reason", "Admit per tick is 0");
        browser.script("localStorage.clear()");
        browser.click("#resume");
        String refused = browser.waitText("#queue-message", "No rate to resume with is known here");
        assertThat(refused).doesNotContain("resumed at 0");
        assertThat(policy(concertId).get("admitPerTick")).isEqualTo(0);
        browser.type("policy-per-tick", "2");
        browser.click("#resume");
        browser.waitText("#queue-message", "Admission resumed at 2 per tick");
        browser.waitText("#stat-active", t -> t.startsWith("1 /"), "the fan admitted");
        // One fan booking = the cap of one: "Cap reached" and why; a second fan waits; Admit now says why nobody came in.
        joinByApi(rival, concertId);
        browser.waitText("#queue-state", "Cap reached");
        browser.waitText("#queue-reason", "1 of 1 admitted fans are booking");
        browser.type("admit-count", "1");
        browser.click("#admit-button");
        browser.waitText("#queue-message", "The active cap of 1 is reached");
        Thread.sleep(2500); // two polls later the answer is still there: it stays until dismissed
        browser.waitText("#queue-message", "The active cap of 1 is reached");
        browser.assertAccessible(size + " operator cap reached");
        browser.assertNoHorizontalScroll(size + " operator");
        browser.script("document.getElementById('queue-panel').scrollIntoView()");
        browser.screenshot(shot + "03-operator-cap-reached");
        browser.click("#queue-message .dismiss");
        await().atMost(Duration.ofSeconds(5)).until(() -> !browser.driver().findElement(org.openqa.selenium.By.id("queue-message")).isDisplayed());

        // Admission: the title says so, the map's heading has focus and is on screen.
        browser.switchTo(fanWindow);
        browser.waitText("#admitted", "You're in!");
        browser.waitText("#seat-summary", "12 of 12 seats free");
        assertThat(browser.driver().getTitle()).contains("Your turn");
        browser.assertFocus("booking-title", "admission");
        browser.assertInView("#booking-title", "The seat map's heading after admission");
        browser.assertAccessible(size + " seat map");
        browser.assertNoHorizontalScroll(size + " seat map");

        // Several seats: 3 by keyboard, 4 and 5 by pointer, 6 and 7 (beyond the limit of 4) refused, 6 unpicked.
        browser.script("arguments[0].focus()", browser.find("#seat-map .seat[data-seat='1']"));
        new Actions(browser.driver()).sendKeys(Keys.ARROW_RIGHT).sendKeys(Keys.ARROW_RIGHT).sendKeys(Keys.ENTER).perform();
        for (int seat : new int[] {4, 5, 6, 7}) {
            browser.script("arguments[0].click()", browser.find("#seat-map .seat[data-seat='" + seat + "']"));
        }
        browser.waitText("#booking-message", "You can pick up to 4 seats");
        browser.script("arguments[0].click()", browser.find("#seat-map .seat[data-seat='6']"));
        browser.waitText("#selection-text", "Seats 3, 4, 5 · 400,000 won");
        browser.waitText("#hold-button", "Hold 3 seats");
        browser.assertInView("#hold-button", "The Hold button with three seats picked");
        browser.assertAccessible(size + " seats picked");
        browser.assertNoHorizontalScroll(size + " seats picked");
        browser.screenshot(shot + "04-seat-map-several-picked");

        // Hold them: focus on the held seats, one Pay for all on screen.
        browser.click("#hold-button");
        browser.waitText("#pay-button", "Pay 400,000 won for 3 seats");
        browser.assertFocus("hold-title", "the hold");
        browser.assertInView("#pay-button", "The Pay button after the hold");
        browser.waitText("#hold-countdown", t -> t.matches("[45]:\\d\\d"), "a countdown near 5 minutes");
        browser.waitText("#seat-summary", "9 of 12 seats free");
        for (int seat : new int[] {3, 4, 5}) {
            browser.find("#seat-map .seat.taken[data-seat='" + seat + "']");
        }
        assertMapFetchedAsLayoutAndAvailability();
        browser.assertAccessible(size + " held");
        browser.assertNoHorizontalScroll(size + " held");
        browser.screenshot(shot + "05-held-one-pay");

        // One payment for the three (a double click pays once): the confirmation names everything and has focus.
        new Actions(browser.driver()).doubleClick(browser.byId("pay-button")).perform();
        browser.waitText("#confirmation-title", "Booked!");
        String confirmation = browser.waitText("#confirmation-details", "400,000 won");
        assertThat(confirmation).contains(concertName).contains(venue).contains("VIP").contains("R")
                .contains("3 (VIP), 4 (VIP), 5 (R)").contains("600,000 won").containsPattern("#\\d+, #\\d+, #\\d+");
        browser.assertFocus("confirmation-title", "the payment");
        browser.assertInView("#confirmation-title", "The confirmation after paying");
        browser.waitText("#balance", "600,000 won");
        assertThat(balance(fan, fanId)).isEqualTo(600_000);
        browser.assertAccessible(size + " confirmation");
        browser.assertNoHorizontalScroll(size + " confirmation");
        browser.screenshot(shot + "06-confirmation");
        String grouped = browser.waitText("#reservations .reservation-group", concertName);
        assertThat(grouped).contains(venue).contains("Seat 3 · VIP").contains("Seat 5 · R");
        assertThat(browser.driver().findElements(org.openqa.selenium.By.cssSelector("#reservations .reservation-group [data-status='PAID']"))).hasSize(3);

        // The next in line gets the freed place; the fan queues again for a fourth seat and holds it; the hold runs
        // out (its time brought forward in the database): at 0:00 Pay goes and the fan reads why.
        browser.switchTo(ops);
        browser.type("policy-cap", "5");
        browser.click("#policy-apply");
        browser.waitText("#queue-message", "Policy applied");
        browser.switchTo(fanWindow);
        browser.click("#concerts button[data-concert='" + concertId + "']");
        browser.waitText("#admitted", "You're in!");
        browser.waitText("#seat-limit", "Pick up to 1 seat");
        browser.script("arguments[0].click()", browser.find("#seat-map .seat[data-seat='8']"));
        browser.click("#hold-button");
        browser.waitText("#pay-button", "Pay 100,000 won");
        long heldId = ((Number) browser.script("return JSON.parse(sessionStorage.getItem('holds'))[0].reservationId")).longValue();
        var soon = com.concertbooking.support.TimeConfig.toDb(Instant.now().plusSeconds(4));
        database.sql("UPDATE reservation SET held_until = :t WHERE id = :id").bind("t", soon).bind("id", heldId).fetch().rowsUpdated().block();
        database.sql("UPDATE seat SET held_until = :t WHERE reservation_id = :id").bind("t", soon).bind("id", heldId).fetch().rowsUpdated().block();
        browser.driver().navigate().refresh();
        browser.waitText("#hold-countdown", t -> t.matches("0:0[0-5]"), "the countdown's last seconds");
        browser.waitText("#pay-message", "Your hold ran out");
        assertThat(browser.byId("hold-countdown").getText()).startsWith("0:00");
        assertThat(browser.driver().findElement(org.openqa.selenium.By.id("pay-button")).isDisplayed()).isFalse();
        browser.assertAccessible(size + " hold ran out");
        browser.screenshot(shot + "07-hold-ran-out-no-pay");

        // Sign-out: the refresh token revoked, a fresh page, nothing of this fan stored or shown; the old screens'
        // buttons throw nothing.
        String refreshToken = (String) browser.script("return JSON.parse(sessionStorage.getItem('auth')).refreshToken");
        browser.click("#sign-out");
        browser.waitText("#sign-in-message", "You have signed out");
        assertThat(browser.script("return sessionStorage.length")).isEqualTo(0L);
        web.post().uri("/api/v1/auth/refresh").contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("refreshToken", refreshToken))
                .exchange().expectStatus().isUnauthorized();
        for (String section : List.of("app-view", "queue-section", "booking-section", "hold-section", "confirmation-section")) {
            assertThat(browser.driver().findElement(org.openqa.selenium.By.id(section)).isDisplayed()).as(section).isFalse();
        }
        browser.script("for (const id of ['hold-button', 'leave-queue', 'pay-button', 'top-up-button']) document.getElementById(id).click()");
        browser.assertAccessible(size + " signed out");
        browser.screenshot(shot + "08-signed-out");
        // The next person on the same tab sees only their own things.
        browser.type("username", rival);
        browser.type("password", PASSWORD);
        browser.click("#sign-in-button");
        browser.waitText("#balance", "300,000 won");
        browser.waitText("#reservations", "No reservations yet.");
        assertThat(browser.byId("concerts-section").getText()).doesNotContain("Your hold");
        assertThat(browser.driver().findElement(org.openqa.selenium.By.id("confirmation-section")).isDisplayed()).isFalse();
        assertThat(rivalId).isPositive();

        // Console: only the refused sign-in's 401s (step two); nothing from the page itself.
        assertThat(browser.consoleErrors(fanWindow)).allSatisfy(e -> assertThat(e).contains("/api/v1/").contains("401"));
        assertThat(browser.consoleErrors(ops)).isEmpty();
    }

    /**
     * What the fan page asked for its seat map, from the browser's own record of its requests (Resource Timing): the
     * layout of the shown date exactly once, its availability in full first and then only with {@code ?since=}, and
     * not the JSON seat list.
     */
    private void assertMapFetchedAsLayoutAndAvailability() {
        String dateId = (String) browser.script("return document.getElementById('date-select').value");
        List<String> asked = ((List<?>) browser.script("return performance.getEntriesByType('resource').map(e => e.name)"))
                .stream().map(Object::toString).filter(u -> u.contains("/api/v1/concerts/dates/")).toList();
        String base = "/api/v1/concerts/dates/" + dateId;
        assertThat(asked).as("the seat map's requests").noneMatch(u -> u.contains("/seats"))
                .filteredOn(u -> u.endsWith(base + "/layout")).hasSize(1);
        List<String> availability = asked.stream().filter(u -> u.contains(base + "/availability")).toList();
        assertThat(availability).as("availability requests").hasSizeGreaterThanOrEqualTo(2);
        assertThat(availability.get(0)).endsWith(base + "/availability");
        assertThat(availability.subList(1, availability.size())).allSatisfy(u -> assertThat(u).containsPattern("/availability\\?since=[1-9]\\d*$"));
    }

    private Map<?, ?> policy(long concertId) {
        return asAdmin().get().uri("/api/v1/admin/queues/{id}", concertId).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
    }

    /** A fan joins the queue through the API (the second in line). */
    private void joinByApi(String username, long concertId) {
        Map<?, ?> login = web.post().uri("/api/v1/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", username, "password", PASSWORD))
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        web.post().uri("/api/v1/queues/token").header("Authorization", "Bearer " + login.get("accessToken"))
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("concertId", concertId))
                .exchange().expectStatus().is2xxSuccessful();
    }

    /** A fan signs in on the fan page, in a window of their own. */
    private void signIn(String window, String username) {
        browser.window(window, "/");
        browser.type("username", username);
        browser.type("password", PASSWORD);
        browser.click("#sign-in-button");
    }

    private long createFan(String username, long balance) {
        Map<?, ?> body = web.post().uri("/api/v1/admin/users")
                .header("X-Admin-Key", ADMIN_KEY)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", username, "password", PASSWORD, "balance", balance))
                .exchange()
                .expectStatus().isCreated()
                .expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) body.get("userId")).longValue();
    }

    /** The balance as the service has it, read with the fan's own sign-in. */
    private long balance(String username, long userId) {
        Map<?, ?> login = web.post().uri("/api/v1/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("username", username, "password", PASSWORD))
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        Map<?, ?> body = web.get().uri("/api/v1/users/{id}/balance", userId)
                .header("Authorization", "Bearer " + login.get("accessToken"))
                .exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        return ((Number) body.get("balance")).longValue();
    }

    /** A datetime-local value in the browser's zone (the JVM's, same machine). */
    private static final class LocalStart {
        static String inDays(int days) {
            return DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm").withZone(ZoneId.systemDefault())
                    .format(Instant.now().plus(Duration.ofDays(days)).truncatedTo(ChronoUnit.HOURS));
        }
    }
}
