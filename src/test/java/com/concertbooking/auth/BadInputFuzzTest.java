package com.concertbooking.auth;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

import com.concertbooking.queue.QueueTestSupport;
import com.concertbooking.support.IdSpellings;
import com.concertbooking.auth.QueuePass;
import com.concertbooking.support.ErrorCode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.netty.http.client.HttpClient;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SPEC 11 and 3: bad input of any kind gets a 4xx problem+json with a SPEC code, never a 5xx or a stack trace. The operations
 * come from the OpenAPI document the service serves; for each one, jqwik's generators produce malformed requests
 * (wrong types, huge and negative numbers, unicode, missing, extra and duplicate fields, truncated JSON, bad and foreign
 * tokens, odd paths), a bounded number per operation; a failure names the exact request, so it replays.
 */
class BadInputFuzzTest extends QueueTestSupport {

    static final int CASES_PER_OPERATION = 24;
    static final long SEED = 20261129L;
    static final Set<String> SPEC_CODES = Arrays.stream(ErrorCode.values()).filter(c -> c != ErrorCode.INTERNAL_ERROR)
            .map(Enum::name).collect(Collectors.toSet());

    /**
     * An operation of the document: its query parameters, its body's fields with their schema types, and who may call
     * it (its security: empty for public, accessToken for fans, adminKey for operators).
     */
    record Operation(HttpMethod method, String path, List<String> queryParameters, List<String> bodyFields, Map<String, String> fieldTypes,
                     String security) {

        boolean operators() {
            return security.contains("adminKey");
        }

        boolean fans() {
            return security.contains("accessToken") && !operators();
        }

        boolean pass() {
            return security.contains("queueToken");
        }
    }

    record Case(String path, String query, MediaType contentType, String body, Map<String, String> headers) {}

    @Test
    void everyOperationAnswersMalformedRequestsWithAProblemNeverA5xx() {
        List<Operation> operations = operations();
        assertThat(operations).as("operations in the OpenAPI document").hasSizeGreaterThan(15);

        long user = createUser(1_000_000);
        var concert = createConcert(12);
        String active = activeToken(user, concert.concertId());
        Map<String, String> credentials = new LinkedHashMap<>();
        credentials.put("none", null);
        credentials.put("user", bearerFor(user));
        credentials.put("garbage", "Bearer " + "x".repeat(40));
        credentials.put("foreign", "Bearer " + TestTokens.signWithFreshKey(TestTokens.claims(Long.toString(user)).build()));
        credentials.put("expired", "Bearer " + TestTokens.sign(TestTokens.claims(Long.toString(user))
                .expirationTime(java.util.Date.from(java.time.Instant.now().minusSeconds(3600))).build()));
        List<String> credentialNames = new ArrayList<>(credentials.keySet());

        WebClient client = WebClient.builder().clientConnector(new ReactorClientHttpConnector(HttpClient.create()
                        .responseTimeout(java.time.Duration.ofSeconds(20))))
                .codecs(c -> c.defaultCodecs().maxInMemorySize(1024 * 1024)).build();
        Random random = new Random(SEED);
        List<String> failures = new ArrayList<>();
        int sent = 0;
        for (Operation operation : operations) {
            for (int i = 0; i < CASES_PER_OPERATION; i++) {
                Case c = generate(operation, random, user, concert.firstDateId(), active);
                Map<String, String> headers = new LinkedHashMap<>(c.headers());
                String credential = credentials.get(credentialNames.get(random.nextInt(credentialNames.size())));
                if (credential != null) {
                    headers.putIfAbsent(HttpHeaders.AUTHORIZATION, credential);
                }
                if (operation.path().startsWith("/api/v1/admin") && random.nextInt(3) == 0) {
                    headers.put(SecurityConfig.ADMIN_KEY_HEADER, random.nextBoolean() ? ADMIN_KEY : printable(junk(random)));
                }
                String outcome = send(client, operation.method(), c, headers);
                sent++;
                if (outcome != null) {
                    failures.add(operation.method() + " " + c.path() + c.query() + " body=" + abbreviate(c.body()) + " headers=" + headers.keySet()
                            + " -> " + outcome);
                }
            }
        }
        System.out.println("bad-input fuzz: " + sent + " requests over " + operations.size() + " operations");
        assertThat(failures).as("answers that were a 5xx, not a problem, or carried a stack trace").isEmpty();
    }

    /**
     * Fuzz the class, not the instance (issue 16): every id parameter of every operation of the document (path, query,
     * body: names ending in {@code Id}) is sent in each non-canonical spelling of a valid id, and where a fan acts,
     * as another fan's user id or reservation, or a date of another concert than the queue pass's, with the rest of
     * the request valid and the caller's own credentials. Each spelling must be 400, each foreign id 403, and
     * nothing may change in the database.
     */
    @Test
    void everyIdIsReadOneWayAndEveryForeignIdIsRefused() {
        long fan = createUser(1_000_000);
        long victim = createUser(500_000);
        var concert = createConcert(12);
        var other = createConcert(12);
        String fanPass = activeToken(fan, concert.concertId());
        long own = holdWith(fanPass, concert.firstDateId(), 1);
        String victimPass = activeToken(victim, concert.concertId());
        long victims = holdWith(victimPass, concert.firstDateId(), 2);
        payWith(victimPass, victims);
        Map<String, Long> ours = Map.of("userId", fan, "concertId", concert.concertId(), "concertDateId", concert.firstDateId(),
                "reservationId", own);
        Map<String, Long> foreign = Map.of("userId", victim, "reservationId", victims, "concertDateId", other.firstDateId());
        String state = "SELECT CONCAT_WS(' | ',"
                + " (SELECT GROUP_CONCAT(id, ':', balance ORDER BY id) FROM users WHERE id IN (" + fan + "," + victim + ")),"
                + " (SELECT GROUP_CONCAT(id, ':', status ORDER BY id) FROM reservation WHERE user_id IN (" + fan + "," + victim + ")),"
                + " (SELECT GROUP_CONCAT(concert_date_id, '/', seat_number, ':', status ORDER BY concert_date_id, seat_number) FROM seat"
                + "  WHERE concert_date_id IN (" + concert.firstDateId() + "," + other.firstDateId() + ")),"
                + " (SELECT COUNT(*) FROM payment WHERE user_id IN (" + fan + "," + victim + ")))";
        String before = database.sql(state).map(r -> r.get(0, String.class)).one().block();

        WebClient client = WebClient.builder().clientConnector(new ReactorClientHttpConnector(HttpClient.create()
                .responseTimeout(java.time.Duration.ofSeconds(20)))).build();
        List<String> failures = new ArrayList<>();
        int sent = 0, operationsWithIds = 0;
        for (Operation operation : operations()) {
            if (operation.path().endsWith("/queues/stream")) {
                continue; // takes no id; a valid request would open an endless stream
            }
            Map<String, String> headers = new LinkedHashMap<>();
            if (operation.operators()) {
                headers.put(SecurityConfig.ADMIN_KEY_HEADER, ADMIN_KEY);
            } else {
                headers.put(HttpHeaders.AUTHORIZATION, bearerFor(fan));
                headers.put(QueuePass.HEADER, fanPass);
            }
            List<String[]> ids = idParameters(operation);
            operationsWithIds += ids.isEmpty() ? 0 : 1;
            for (String[] id : ids) {
                String where = id[0], name = id[1];
                long value = ours.getOrDefault(name, 1L);
                for (String spelling : where.equals("body") ? IdSpellings.inJson(value) : IdSpellings.inUrl(value)) {
                    sent++;
                    String outcome = exchange(client, operation, headers, Map.of(name, spelling), ours);
                    if (!outcome.startsWith("400 VALIDATION_FAILED") && !outcome.startsWith("400 REQUEST_REJECTED")) {
                        failures.add(operation.method() + " " + operation.path() + " " + where + " " + name + "=" + spelling + " -> " + outcome);
                    }
                }
                if (operation.fans() && foreign.containsKey(name) && (!name.equals("concertDateId") || operation.pass())) {
                    sent++;
                    String outcome = exchange(client, operation, headers, Map.of(name, Long.toString(foreign.get(name))), ours);
                    if (!outcome.startsWith("403 FORBIDDEN")) {
                        failures.add(operation.method() + " " + operation.path() + " " + where + " " + name + " of another -> " + outcome);
                    }
                }
            }
        }
        System.out.println("id fuzz: " + sent + " requests over " + operationsWithIds + " operations with ids");
        assertThat(operationsWithIds).as("operations naming an id").isGreaterThanOrEqualTo(14);
        assertThat(failures).as("ids read in another spelling, or another's id not refused").isEmpty();
        assertThat(database.sql(state).map(r -> r.get(0, String.class)).one().block()).as("balances, reservations, seats, payments")
                .isEqualTo(before);
    }

    /** The operation's ids: {where, name} for path variables, query parameters and body fields whose name ends in Id. */
    private static List<String[]> idParameters(Operation operation) {
        List<String[]> ids = new ArrayList<>();
        var variables = java.util.regex.Pattern.compile("\\{([^}]+)}").matcher(operation.path());
        while (variables.find()) {
            if (variables.group(1).endsWith("Id")) {
                ids.add(new String[] {"path", variables.group(1)});
            }
        }
        operation.queryParameters().stream().filter(q -> q.endsWith("Id")).forEach(q -> ids.add(new String[] {"query", q}));
        operation.fieldTypes().keySet().stream().filter(f -> f.endsWith("Id")).forEach(f -> ids.add(new String[] {"body", f}));
        return ids;
    }

    /**
     * A valid request of this operation (the caller's own ids, plausible values elsewhere) but for {@code changed}
     * (raw: URL-encoded for a path or query, JSON for a body field); answers "status CODE".
     */
    private String exchange(WebClient client, Operation operation, Map<String, String> headers, Map<String, String> changed, Map<String, Long> ours) {
        var variables = java.util.regex.Pattern.compile("\\{([^}]+)}").matcher(operation.path());
        StringBuilder path = new StringBuilder();
        while (variables.find()) {
            String name = variables.group(1);
            variables.appendReplacement(path, java.util.regex.Matcher.quoteReplacement(
                    changed.getOrDefault(name, Long.toString(ours.getOrDefault(name, 1L)))));
        }
        variables.appendTail(path);
        StringBuilder query = new StringBuilder();
        for (String name : operation.queryParameters()) {
            String value = changed.containsKey(name) ? changed.get(name) : name.endsWith("Id") ? Long.toString(ours.getOrDefault(name, 1L))
                    : switch (name) {
                        case "status" -> "all";
                        case "page" -> "0";
                        case "size" -> "20";
                        default -> null;
                    };
            if (value != null) {
                query.append(query.isEmpty() ? "?" : "&").append(name).append('=').append(value);
            }
        }
        String body = null;
        if (!operation.fieldTypes().isEmpty()) {
            List<String> members = new ArrayList<>();
            operation.fieldTypes().forEach((field, type) -> {
                String value = changed.containsKey(field) ? changed.get(field)
                        : field.endsWith("Id") ? Long.toString(ours.getOrDefault(field, 1L))
                        : switch (type) {
                            case "integer" -> field.equals("seatNumber") ? "3" : field.equals("amount") ? "1000" : "1";
                            case "string" -> "\"x\"";
                            case "boolean" -> "false";
                            default -> null;
                        };
                if (value != null) {
                    members.add(quoted(field) + ":" + value);
                }
            });
            body = "{" + String.join(",", members) + "}";
        }
        var spec = client.method(operation.method()).uri(java.net.URI.create("http://127.0.0.1:" + port + path + query));
        headers.forEach(spec::header);
        var ready = body == null ? spec : spec.contentType(MediaType.APPLICATION_JSON).bodyValue(body.getBytes(StandardCharsets.UTF_8));
        return ready.exchangeToMono(response -> response.bodyToMono(String.class).defaultIfEmpty("").map(text -> {
            var code = java.util.regex.Pattern.compile("\"code\":\"([A-Z_]+)\"").matcher(text);
            return response.statusCode().value() + (code.find() ? " " + code.group(1) : "") + " " + abbreviate(text);
        })).block(java.time.Duration.ofSeconds(30));
    }

    /** The operations of the served OpenAPI document, with their query parameters and body fields. */
    @SuppressWarnings("unchecked")
    private List<Operation> operations() {
        Map<String, Object> doc = web.mutate().codecs(c -> c.defaultCodecs().maxInMemorySize(4 * 1024 * 1024)).build()
                .get().uri("/v3/api-docs").exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody();
        Map<String, Object> schemas = (Map<String, Object>) ((Map<String, Object>) doc.getOrDefault("components", Map.of()))
                .getOrDefault("schemas", Map.of());
        List<Operation> operations = new ArrayList<>();
        ((Map<String, Map<String, Object>>) doc.get("paths")).forEach((path, item) -> item.forEach((method, value) -> {
            if (!(value instanceof Map<?, ?> op) || !Set.of("get", "post", "put", "patch", "delete").contains(method)) {
                return;
            }
            List<String> query = new ArrayList<>();
            for (Object p : (List<Object>) ((Map<String, Object>) op).getOrDefault("parameters", List.of())) {
                Map<String, Object> parameter = (Map<String, Object>) p;
                if ("query".equals(parameter.get("in"))) {
                    query.add((String) parameter.get("name"));
                }
            }
            List<String> fields = new ArrayList<>();
            Map<String, String> types = new LinkedHashMap<>();
            Object requestBody = ((Map<String, Object>) op).get("requestBody");
            if (requestBody != null) {
                String ref = String.valueOf(requestBody).replaceAll(".*#/components/schemas/([A-Za-z0-9_]+).*", "$1");
                Map<String, Object> schema = (Map<String, Object>) schemas.getOrDefault(ref, Map.of());
                ((Map<String, Map<String, Object>>) schema.getOrDefault("properties", Map.of()))
                        .forEach((field, property) -> types.put(field, String.valueOf(property.getOrDefault("type", "object"))));
                fields.addAll(types.keySet());
                if (fields.isEmpty()) {
                    fields.add("value");
                }
            }
            operations.add(new Operation(HttpMethod.valueOf(method.toUpperCase()), path, query, fields, types,
                    String.valueOf(((Map<String, Object>) op).getOrDefault("security", List.of()))));
        }));
        return operations;
    }

    /** Values nobody should send: jqwik's generators, drawn from a seeded random so a failure replays. */
    static final Arbitrary<String> JUNK = Arbitraries.oneOf(
            Arbitraries.strings().all().ofMaxLength(40),
            Arbitraries.strings().withCharRange('\u0080', '\uffff').ofMinLength(1).ofMaxLength(12),
            Arbitraries.longs().map(Object::toString),
            Arbitraries.bigIntegers().between(new java.math.BigInteger("-1" + "0".repeat(30)), new java.math.BigInteger("1" + "0".repeat(30)))
                    .map(Object::toString),
            Arbitraries.doubles().map(Object::toString),
            Arbitraries.of("0", "-1", "1.5", "1e309", "NaN", "", " ", "null", "true", "%", "%00", "..", "\\", "'; DROP TABLE users; --",
                    "\u0000", "\uD800", "9223372036854775808", "-9223372036854775809", "{}", "[]", "\"\""));

    static final Arbitrary<String> JSON_VALUE = Arbitraries.oneOf(
            JUNK.map(BadInputFuzzTest::quoted),
            Arbitraries.longs().map(Object::toString),
            Arbitraries.of("1", "0", "-5", "1.5", "1e3", "99999999999999999999999", "null", "true", "[]", "{}", "[1,2]", "{\"a\":1}",
                    "\"2026-13-45T99:00:00Z\"", "\"+99999-01-01T00:00:00Z\"", "\"" + "x".repeat(5000) + "\""));

    /** jqwik draws the values (outside a property, so from its own randomness); the request shapes come from the seed. */
    private static String junk(Random random) {
        return JUNK.sample();
    }

    private Case generate(Operation operation, Random random, long user, long dateId, String active) {
        String path = operation.path();
        // Path variables: a real id of ours most of the time (to get past the first check), junk otherwise.
        var variables = java.util.regex.Pattern.compile("\\{([^}]+)}").matcher(path);
        StringBuilder concrete = new StringBuilder();
        while (variables.find()) {
            String value = switch (random.nextInt(4)) {
                case 0 -> junk(random);
                case 1 -> Long.toString(random.nextBoolean() ? user : dateId);
                default -> Long.toString(random.nextBoolean() ? user : Math.abs(random.nextLong() % 1_000_000) + 1);
            };
            variables.appendReplacement(concrete, java.util.regex.Matcher.quoteReplacement(encode(value)));
        }
        variables.appendTail(concrete);
        StringBuilder query = new StringBuilder();
        for (String name : operation.queryParameters()) {
            if (random.nextInt(4) > 0) {
                query.append(query.isEmpty() ? "?" : "&").append(name).append('=').append(encode(random.nextBoolean() ? junk(random) : Long.toString(user)));
            }
        }
        if (random.nextInt(5) == 0) {
            query.append(query.isEmpty() ? "?" : "&").append(encode(junk(random))).append('=').append(encode(junk(random)));
        }
        Map<String, String> headers = new LinkedHashMap<>();
        boolean stream = path.endsWith("/queues/stream"); // a live token would open an endless stream: junk only there
        switch (random.nextInt(6)) {
            case 0 -> headers.put(QueuePass.HEADER, stream ? "x" + active : active);
            case 1 -> headers.put(QueuePass.HEADER, printable(junk(random)));
            case 2 -> headers.put("Idempotency-Key", printable(junk(random)) + "k");
            default -> { }
        }
        String body = null;
        MediaType type = MediaType.APPLICATION_JSON;
        if (!operation.bodyFields().isEmpty() || random.nextInt(6) == 0) {
            body = body(operation.bodyFields().isEmpty() ? List.of("x") : operation.bodyFields(), random, user);
            if (random.nextInt(10) == 0) {
                type = random.nextBoolean() ? MediaType.TEXT_PLAIN : MediaType.APPLICATION_XML;
            }
        }
        return new Case(concrete.toString(), query.toString(), type, body, headers);
    }

    /** A JSON body with the operation's fields, some missing, some junk, maybe duplicated, extra, nested or broken. */
    private static String body(List<String> fields, Random random, long user) {
        List<String> members = new ArrayList<>();
        for (String field : fields) {
            if (random.nextInt(5) == 0) {
                continue; // missing
            }
            String value = field.equals("userId") && random.nextBoolean() ? Long.toString(user) : JSON_VALUE.sample();
            members.add(quoted(field) + ":" + value);
            if (random.nextInt(8) == 0) {
                members.add(quoted(field) + ":" + JSON_VALUE.sample()); // duplicate key
            }
        }
        if (random.nextInt(4) == 0) {
            members.add(quoted(junk(random)) + ":" + JSON_VALUE.sample()); // extra field
        }
        String json = "{" + String.join(",", members) + "}";
        return switch (random.nextInt(12)) {
            case 0 -> json.substring(0, json.length() / 2); // truncated
            case 1 -> json + " trailing";
            case 2 -> "[" + json + "]";
            case 3 -> "{\"dates\":[" + json + "],\"seats\":" + json + "}";
            case 4 -> junk(random);
            default -> json;
        };
    }

    private String send(WebClient client, HttpMethod method, Case c, Map<String, String> headers) {
        var spec = client.method(method).uri(java.net.URI.create("http://127.0.0.1:" + port + c.path() + c.query()));
        headers.forEach(spec::header);
        var ready = c.body() == null ? spec : spec.contentType(c.contentType()).bodyValue(c.body().getBytes(StandardCharsets.UTF_8));
        String outcome = ready.exchangeToMono(response -> response.bodyToMono(String.class).defaultIfEmpty("").map(body -> {
            int status = response.statusCode().value();
            if (body.contains("Exception") || body.contains("\tat ") || body.contains("at com.concertbooking")) {
                return status + " with a stack trace: " + abbreviate(body);
            }
            if (status >= 500) {
                return status + " " + abbreviate(body);
            }
            if (status >= 400) {
                boolean problem = response.headers().contentType().map(t -> t.isCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)).orElse(false);
                var code = java.util.regex.Pattern.compile("\"code\":\"([A-Z_]+)\"").matcher(body);
                if (method != HttpMethod.HEAD && (!problem || !code.find() || !SPEC_CODES.contains(code.group(1)))) {
                    return status + " without a problem+json SPEC code: " + abbreviate(body);
                }
            }
            return "";
        })).block(java.time.Duration.ofSeconds(30));
        return outcome == null || outcome.isEmpty() ? null : outcome;
    }

    /** What an HTTP client can put in a header at all: the junk is in the characters it keeps. */
    private static String printable(String value) {
        return value.replaceAll("[^\\x20-\\x7E]", "x").strip();
    }

    private static String encode(String value) {
        return java.net.URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String quoted(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (ch < 0x20) {
                        out.append(String.format("\\u%04x", (int) ch));
                    } else {
                        out.append(ch);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    private static String abbreviate(String s) {
        return s == null ? "null" : s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
