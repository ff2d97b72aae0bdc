package com.concertbooking.fleet;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * A plain HTTP client for the fleet journey: every request goes through the balancer, as a fan's would.
 * Counts what happened (by status, by serving instance, failures), so the kill's cost can be reported.
 * Public: the fault tests and the fault bench (package faults) drive the service with it too.
 */
public final class Http {

    public static final ObjectMapper JSON = JsonMapper.builder().build();

    static {
        // The balancer closes idle client connections after 10 s (timeout http-keep-alive). The JDK client keeps
        // them 20 minutes and would now and then send a request on one the balancer is closing: a failure that
        // has nothing to do with the instance being killed. Give them up first.
        System.setProperty("jdk.httpclient.keepalive.timeout", "5");
    }

    /** One answer; {@code status} 0 means no HTTP answer at all (connection reset, timeout). */
    public record Reply(int status, JsonNode body, String servedBy, String retryAfter, String error) {
        public boolean ok() {
            return status >= 200 && status < 300;
        }

        /** No answer, or the balancer's / a dying instance's 502/503/504: the request may be retried. */
        public boolean transientFailure() {
            return status == 0 || status == 502 || status == 503 || status == 504;
        }

        public String code() {
            return body == null ? "" : body.path("code").asString("");
        }
    }

    final String base;
    final HttpClient client;
    public final AtomicLong requests = new AtomicLong();
    public final AtomicLong failures = new AtomicLong();
    final Map<String, AtomicLong> byServer = new ConcurrentHashMap<>();
    public final Map<Integer, AtomicLong> byStatus = new ConcurrentHashMap<>();
    /** Failed requests per second since the start (for the errors around the kill). */
    final Map<Long, AtomicLong> failuresBySecond = new ConcurrentHashMap<>();
    final long startNanos = System.nanoTime();

    public Http(String base) {
        this.base = base;
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20));
    }

    public Reply get(String path, Map<String, String> headers) {
        HttpRequest.Builder b = request(path).GET();
        headers.forEach(b::header);
        return send(b.build());
    }

    public Reply send(String method, String path, Object body, Map<String, String> headers) {
        HttpRequest.Builder b = request(path);
        headers.forEach(b::header);
        if (body == null) {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            b.header("Content-Type", "application/json");
            b.method(method, HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
        }
        return send(b.build());
    }

    Reply send(HttpRequest request) {
        requests.incrementAndGet();
        try {
            HttpResponse<String> r = client.send(request, HttpResponse.BodyHandlers.ofString());
            String server = r.headers().firstValue("X-Served-By").orElse("-");
            byServer.computeIfAbsent(server, k -> new AtomicLong()).incrementAndGet();
            byStatus.computeIfAbsent(r.statusCode(), k -> new AtomicLong()).incrementAndGet();
            JsonNode body = null;
            String text = r.body();
            if (text != null && !text.isBlank() && (text.startsWith("{") || text.startsWith("["))) {
                body = JSON.readTree(text);
            }
            Reply reply = new Reply(r.statusCode(), body, server, r.headers().firstValue("Retry-After").orElse(null), null);
            if (reply.transientFailure()) {
                failed();
            }
            return reply;
        } catch (IOException e) {
            failed();
            return new Reply(0, null, "-", null, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    void failed() {
        failures.incrementAndGet();
        failuresBySecond.computeIfAbsent(secondsSinceStart(), k -> new AtomicLong()).incrementAndGet();
    }

    long secondsSinceStart() {
        return (System.nanoTime() - startNanos) / 1_000_000_000L;
    }

    public static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The pause a 429/503 asks for (Retry-After seconds), bounded so a test never sleeps long. */
    public static long retryPause(Reply r, long fallbackMillis) {
        if (r.retryAfter() != null) {
            try {
                return Math.min(3000, Math.max(200, Long.parseLong(r.retryAfter().trim()) * 1000));
            } catch (NumberFormatException ignored) {
                // an HTTP date: use the fallback
            }
        }
        return fallbackMillis;
    }
}
