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

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
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
        browser.screenshot("01-operator-paused");

        long fanId = createFan(fan, 500_000);
        createFan(rival, 500_000);

        // The fan signs in, opens the concert's link, sees its date with free seats and joins the paused queue.
        browser.window("fan", "/");
        browser.type("username", fan);
        browser.type("password", PASSWORD);
        browser.click("#sign-in-button");
        browser.waitText("#balance", "500,000 won");
        browser.window("fan", "/#concert-" + concertId);
        browser.waitText("#concerts", "16 of 16 seats free");
        browser.screenshot("02-fan-concert");
        browser.click("#concerts button[data-concert='" + concertId + "']");
        browser.waitText("#queue-position", "1");
        browser.waitText("#queue-wait", "paused");
        browser.waitText("#queue-connection", "Live");
        browser.screenshot("03-fan-waiting");
        String queueToken = (String) browser.script("return JSON.parse(sessionStorage.getItem('queue')).token");

        // The operator sees the fan waiting, with the live figures.
        browser.switchTo("operator");
        browser.waitText("#stat-waiting", "1");
        browser.waitText("#stat-streams", "1");
        browser.waitText("#stat-oldest", t -> t.endsWith(" s"), "an oldest wait in seconds");
        browser.screenshot("03-operator-fan-waiting");

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
        browser.screenshot("04-fan-reconnected");

        // The operator resumes admission; the fan's page turns to the seat map without a reload.
        browser.switchTo("operator");
        browser.click("#resume");
        browser.waitText("#queue-state", "Admitting");
        browser.waitText("#stat-active", t -> t.startsWith("1 /"), "one active fan");
        browser.screenshot("05-operator-resumed");
        browser.switchTo("fan");
        browser.waitText("#admitted", "You're in!");
        browser.waitText("#seat-summary", "16 of 16 seats free");
        browser.screenshot("06-fan-admitted");

        // By keyboard: focus the first VIP seat, arrow right twice to seat 3, Enter picks it; then hold it.
        WebElement first = browser.find("#seat-map .seat[data-seat='1']");
        browser.script("arguments[0].focus()", first);
        new Actions(browser.driver()).sendKeys(Keys.ARROW_RIGHT).sendKeys(Keys.ARROW_RIGHT).sendKeys(Keys.ENTER).perform();
        browser.waitText("#selection-text", "Seat 3 · VIP · 150,000 won");
        browser.click("#hold-button");
        String countdown = browser.waitText("#hold-countdown", t -> t.matches("[45]:\\d\\d"), "a countdown near 5 minutes");
        browser.waitText("#hold-countdown", t -> !t.equals(countdown) && t.matches("\\d:\\d\\d"), "the countdown moving");
        browser.waitText("#seat-summary", "15 of 16 seats free");
        browser.waitText("#reservations", "Held");
        browser.screenshot("07-fan-hold");

        // A second fan, on a phone-sized screen, gets in and tries the same seat: the page says it is taken.
        browser.window("rival", "/");
        browser.size(390, 844);
        browser.type("username", rival);
        browser.type("password", PASSWORD);
        browser.click("#sign-in-button");
        browser.window("rival", "/#concert-" + concertId);
        browser.click("#concerts button[data-concert='" + concertId + "']");
        browser.waitText("#admitted", "You're in!");
        browser.waitText("#seat-summary", "15 of 16 seats free");
        browser.click("#seat-map .seat.taken[data-seat='3']");
        browser.click("#hold-button");
        browser.waitText("#booking-message", "someone else has just taken this seat");
        browser.screenshot("08-rival-seat-taken-phone");

        // The first fan pays with a double click: one payment, reservation PAID, balance 150,000 lower.
        browser.switchTo("fan");
        new Actions(browser.driver()).doubleClick(browser.byId("pay-button")).perform();
        browser.waitText("#reservations-message", "It is yours!");
        browser.waitText("#reservations [data-status='PAID']", "Paid");
        browser.waitText("#balance", "350,000 won");
        browser.screenshot("09-fan-paid");
        assertThat(balance(fan, fanId)).isEqualTo(350_000);
        browser.switchTo("operator");
        browser.waitText("#stat-active", t -> t.startsWith("1 /"), "the payer's slot freed, the rival active");
        browser.screenshot("10-operator-after-payment");

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
        browser.screenshot("11-fan-top-up");
        assertThat(browser.consoleErrors("words")).allSatisfy(e -> assertThat(e).containsAnyOf("/api/v1/auth/login", "/api/v1/users/"));
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
