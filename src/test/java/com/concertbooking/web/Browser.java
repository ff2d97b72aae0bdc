package com.concertbooking.web;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.stream.Stream;

import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import static org.assertj.core.api.Assertions.fail;

/**
 * Debian's headless Chromium driven by Selenium through Debian's chromedriver: no browser or driver download
 * (Selenium Manager is never asked, both paths are given). One browser per test class; each person on the page
 * (a fan, another fan, the operator) gets a window of their own, so their sessionStorage is separate.
 * Screenshots go to target/web-screenshots/.
 */
final class Browser implements AutoCloseable {

    static final Path CHROMIUM = Path.of(System.getenv().getOrDefault("BOOKING_CHROMIUM", "/usr/bin/chromium"));
    static final Path CHROMEDRIVER = Path.of(System.getenv().getOrDefault("BOOKING_CHROMEDRIVER", "/usr/bin/chromedriver"));
    static final Path SCREENSHOTS = Path.of("target", "web-screenshots");
    private static final Duration WAIT = Duration.ofSeconds(20);

    private final ChromeDriver driver;
    private final ChromeDriverService service;
    private final Path profile;
    private final String baseUrl;
    private final Map<String, String> windows = new LinkedHashMap<>();
    private final Map<String, List<String>> consoleErrors = new LinkedHashMap<>();
    private String current;

    /** Fails (never skips) when the browser is missing: bin/infra installs it, and CI runs bin/test. */
    static Browser start(int port) {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            fail("The browser tests need Debian's Chromium at " + CHROMIUM + " and its driver at " + CHROMEDRIVER
                    + ": run bin/infra up (it installs them) or apt-get install -y chromium chromium-driver");
        }
        return new Browser(port);
    }

    private Browser(int port) {
        baseUrl = "http://127.0.0.1:" + port;
        try {
            profile = Files.createTempDirectory("booking-chromium-");
            Files.createDirectories(SCREENSHOTS);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=1280,1000", "--lang=en-US");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        driver = new ChromeDriver(service, options);
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(20));
        windows.put("first", driver.getWindowHandle());
        current = "first";
    }

    ChromeDriver driver() {
        return driver;
    }

    /** Opens (or switches to) the window of one person and loads a page there. */
    Browser window(String who, String path) {
        switchTo(who);
        driver.get(baseUrl + path);
        return this;
    }

    Browser switchTo(String who) {
        drainConsole();
        if (!windows.containsKey(who)) {
            if (windows.containsKey("first") && windows.size() == 1) {
                windows.put(who, windows.remove("first"));
            } else {
                driver.switchTo().newWindow(WindowType.WINDOW);
                windows.put(who, driver.getWindowHandle());
            }
        }
        driver.switchTo().window(windows.get(who));
        current = who;
        return this;
    }

    void size(int width, int height) {
        driver.manage().window().setSize(new Dimension(width, height));
    }

    WebElement find(String css) {
        return new WebDriverWait(driver, WAIT).until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(css)));
    }

    WebElement byId(String id) {
        return find("#" + id);
    }

    void type(String id, String text) {
        WebElement input = byId(id);
        input.clear();
        input.sendKeys(text);
    }

    /** Clicks when clickable; a list the page re-renders meanwhile (a stale element) is looked up again. */
    void click(String css) {
        new WebDriverWait(driver, WAIT).ignoring(org.openqa.selenium.StaleElementReferenceException.class).until(d -> {
            WebElement element = ExpectedConditions.elementToBeClickable(By.cssSelector(css)).apply(d);
            if (element == null) {
                return false;
            }
            element.click();
            return true;
        });
    }

    /** Waits until the element's text satisfies the condition; returns that text. */
    String waitText(String css, Predicate<String> condition, String what) {
        try {
            // A page that reloads (sign-out starts a fresh page) replaces the element between finding and reading it: poll again.
            return new WebDriverWait(driver, WAIT).pollingEvery(Duration.ofMillis(100))
                    .ignoring(org.openqa.selenium.StaleElementReferenceException.class).until(d -> {
                List<WebElement> found = d.findElements(By.cssSelector(css));
                if (found.isEmpty() || !found.get(0).isDisplayed()) {
                    return null;
                }
                String text = found.get(0).getText();
                return condition.test(text) ? text : null;
            });
        } catch (org.openqa.selenium.TimeoutException e) {
            List<WebElement> found = driver.findElements(By.cssSelector(css));
            String seen = found.isEmpty() ? "(no element)" : found.get(0).isDisplayed() ? found.get(0).getText() : "(hidden)";
            screenshot("failed-" + current);
            throw new AssertionError("Waited " + WAIT.toSeconds() + " s in the " + current + " window for " + css + " to show "
                    + what + "; it shows: " + seen, e);
        }
    }

    String waitText(String css, String contains) {
        return waitText(css, t -> t.contains(contains), "'" + contains + "'");
    }

    Object script(String js, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(js, args);
    }

    /** axe-core 4.14.1 (src/test/resources/axe, MPL-2.0), read once and injected into the page under test. */
    private static String axeSource;

    /**
     * Runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules plus best practices) on the page as it is now and fails with
     * every violation listed (rule, impact, the elements) unless there is none.
     */
    void assertAccessible(String state) {
        if (axeSource == null) {
            try (var in = Browser.class.getResourceAsStream("/axe/axe.min.js")) {
                axeSource = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        if (!Boolean.TRUE.equals(script("return typeof window.axe === 'object'"))) {
            script(axeSource + "\n;return true;");
        }
        // axe walks the whole page: on a busy machine that takes longer than the 20 s given to the page's own scripts.
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(120));
        Object result = driver.executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                axe.run(document, { resultTypes: ['violations'],
                    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } })
                  .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' -> '
                      + v.nodes.map(n => n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ']').join('; '))))
                  .catch(e => done(['axe failed: ' + e]));
                """);
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(20));
        List<?> violations = (List<?>) result;
        if (!violations.isEmpty()) {
            screenshot("axe-" + state);
            throw new AssertionError("axe-core found " + violations.size() + " violation(s) in the " + current + " window, state '"
                    + state + "':\n" + String.join("\n", violations.stream().map(String::valueOf).toList()));
        }
    }

    /** One step of a walk: axe-core finds nothing, the page does not scroll sideways, and the screenshot is kept. */
    void step(String name) {
        assertAccessible(name);
        assertNoHorizontalScroll(name);
        screenshot(name);
    }

    /** SPEC 12: usable at 390 px without horizontal scrolling. */
    void assertNoHorizontalScroll(String state) {
        Number overflow = (Number) script("return document.documentElement.scrollWidth - document.documentElement.clientWidth");
        if (overflow.intValue() > 0) {
            screenshot("overflow-" + state);
            throw new AssertionError("The page scrolls sideways by " + overflow + " px in the " + current + " window, state '" + state + "'");
        }
    }

    /** Whether the element is wholly inside the visible part of the window (not scrolled away, not below the fold). */
    boolean inView(String css) {
        return Boolean.TRUE.equals(script("""
                const e = document.querySelector(arguments[0]);
                if (!e) return false;
                const r = e.getBoundingClientRect();
                return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
                """, css));
    }

    void assertInView(String css, String what) {
        try {
            new WebDriverWait(driver, Duration.ofSeconds(5)).until(d -> inView(css));
        } catch (org.openqa.selenium.TimeoutException e) {
            screenshot("not-in-view-" + current);
            throw new AssertionError(what + " (" + css + ") is not on screen in the " + current + " window: "
                    + script("const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                    + " return r.top + '..' + r.bottom + ' of ' + window.innerHeight", css), e);
        }
    }

    /** Waits for focus to be on the element with this id. */
    void assertFocus(String id, String after) {
        try {
            new WebDriverWait(driver, Duration.ofSeconds(5)).until(d -> id.equals(script("return document.activeElement && document.activeElement.id")));
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError("After " + after + " focus should be on #" + id + " but is on "
                    + script("const a = document.activeElement; return a ? a.tagName + '#' + a.id : 'nothing'"), e);
        }
    }

    /** Closes one person's window (their sessionStorage goes with it). */
    void closeWindow(String who) {
        if (!windows.containsKey(who)) {
            return;
        }
        switchTo(who);
        drainConsole();
        driver.close();
        windows.remove(who);
        current = null;
        driver.switchTo().window(windows.values().iterator().next());
    }

    void screenshot(String name) {
        try {
            Files.write(SCREENSHOTS.resolve(name + ".png"), driver.getScreenshotAs(OutputType.BYTES));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Console messages at SEVERE level (script errors, console.error, failed loads) seen in a window so far. */
    List<String> consoleErrors(String who) {
        String back = current;
        switchTo(who);
        drainConsole();
        switchTo(back);
        return consoleErrors.getOrDefault(who, List.of());
    }

    private void drainConsole() {
        if (current == null || !windows.containsKey(current)) {
            return;
        }
        List<String> errors = consoleErrors.computeIfAbsent(current, k -> new ArrayList<>());
        for (LogEntry entry : driver.manage().logs().get(LogType.BROWSER)) {
            if (entry.getLevel().intValue() >= Level.SEVERE.intValue()) {
                errors.add(entry.getMessage());
            }
        }
    }

    @Override
    public void close() {
        try {
            driver.quit();
        } finally {
            service.stop();
            try (Stream<Path> files = Files.walk(profile)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // a leftover temporary profile is harmless
            }
        }
    }
}
