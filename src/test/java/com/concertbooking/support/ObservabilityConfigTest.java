package com.concertbooking.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.concertbooking.booking.BookingTestBase;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The observability profile of docker-compose.yml cannot be started here (no Docker engine), so its files are
 * checked instead: the Grafana dashboard and the Prometheus alert rules may only use metric names (and label
 * names) that this application really exports, the dashboards point at the provisioned datasource, Prometheus
 * scrapes every instance, and, when Prometheus' own promtool is at hand (`bin/infra promtool`, which bin/test
 * runs), `promtool check config`, `check rules` and the rule unit tests of infra/prometheus/alerts_test.yml pass.
 */
class ObservabilityConfigTest extends BookingTestBase {

    private static final Path ROOT = Path.of(System.getProperty("user.dir"));
    private static final Path PROMETHEUS = ROOT.resolve("infra/prometheus");
    private static final Path GRAFANA = ROOT.resolve("infra/grafana");
    /** Series Prometheus makes itself and labels it attaches to every scraped series. */
    private static final Set<String> SYNTHETIC_METRICS = Set.of("up", "scrape_duration_seconds", "scrape_samples_scraped");
    private static final Set<String> TARGET_LABELS = Set.of("instance", "job", "deployment", "le");
    private static final Set<String> PROMQL_WORDS = Set.of("sum", "min", "max", "avg", "count", "rate", "irate", "increase",
            "histogram_quantile", "absent", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "topk", "bottomk", "quantile", "label_values", "max_over_time", "min_over_time",
            "avg_over_time", "clamp_min", "clamp_max", "delta", "deriv", "abs", "time", "vector", "scalar", "inf", "nan");

    private final ObjectMapper json = new ObjectMapper();

    @Test
    void dashboardAndAlertRulesUseOnlyMetricsTheApplicationExports() throws IOException {
        Map<String, Set<String>> exported = exportedMetricsAfterAJourney();
        List<String> expressions = new ArrayList<>();
        dashboardExpressions().forEach((panel, exprs) -> expressions.addAll(exprs));
        alertRules().forEach(rule -> expressions.add(String.valueOf(rule.get("expr"))));

        Set<String> used = new TreeSet<>();
        List<String> problems = new ArrayList<>();
        for (String expr : expressions) {
            Map<String, Set<String>> selectors = selectors(expr);
            Set<String> labelsInExpr = new HashSet<>(TARGET_LABELS);
            for (var s : selectors.entrySet()) {
                used.add(s.getKey());
                if (SYNTHETIC_METRICS.contains(s.getKey())) {
                    continue;
                }
                Set<String> labels = exported.get(s.getKey());
                if (labels == null) {
                    problems.add("unknown metric " + s.getKey() + " in: " + expr);
                    continue;
                }
                labelsInExpr.addAll(labels);
                for (String label : s.getValue()) {
                    if (!labels.contains(label) && !TARGET_LABELS.contains(label)) {
                        problems.add("metric " + s.getKey() + " has no label " + label + " in: " + expr);
                    }
                }
            }
            for (String label : groupingLabels(expr)) {
                if (!labelsInExpr.contains(label)) {
                    problems.add("no metric of the expression has the label " + label + ": " + expr);
                }
            }
        }
        assertThat(problems).as("PromQL in infra/grafana/dashboards and infra/prometheus/alerts.yml").isEmpty();
        // The parsing above is not vacuous: the panels of the issue are all there.
        assertThat(used).contains("up", "booking_queue_waiting", "booking_queue_active", "booking_queue_admissions_total",
                "booking_queue_tick_seconds_bucket", "booking_queue_streams", "booking_holds_total", "booking_payments_total",
                "booking_outbox_oldest_unsent_age_seconds", "booking_outbox_unsent_events", "r2dbc_pool_pending_connections",
                "r2dbc_pool_acquired_connections");
    }

    @Test
    void dashboardsAreWellFormedAndUseTheProvisionedDatasource() throws IOException {
        Map<?, ?> datasources = yaml(GRAFANA.resolve("provisioning/datasources/prometheus.yml"));
        List<?> sources = (List<?>) datasources.get("datasources");
        assertThat(sources).hasSize(1);
        Map<?, ?> source = (Map<?, ?>) sources.get(0);
        assertThat(source.get("type")).isEqualTo("prometheus");
        assertThat(String.valueOf(source.get("url"))).isEqualTo("http://prometheus:9090"); // the compose service's name
        String uid = String.valueOf(source.get("uid"));

        Map<?, ?> provider = (Map<?, ?>) ((List<?>) yaml(GRAFANA.resolve("provisioning/dashboards/booking.yml")).get("providers")).get(0);
        assertThat(((Map<?, ?>) provider.get("options")).get("path")).isEqualTo("/var/lib/grafana/dashboards");
        String compose = Files.readString(ROOT.resolve("docker-compose.yml"));
        assertThat(compose).contains("./infra/grafana/provisioning:/etc/grafana/provisioning", "./infra/grafana/dashboards:/var/lib/grafana/dashboards",
                "./infra/prometheus:/etc/prometheus");

        List<Path> dashboards;
        try (var files = Files.list(GRAFANA.resolve("dashboards"))) {
            dashboards = files.filter(p -> p.toString().endsWith(".json")).toList();
        }
        assertThat(dashboards).isNotEmpty();
        Set<String> uids = new HashSet<>();
        for (Path file : dashboards) {
            JsonNode d = json.readTree(file.toFile());
            assertThat(uids.add(d.path("uid").asString())).as("unique dashboard uid in " + file).isTrue();
            assertThat(d.path("title").asString()).isNotBlank();
            Set<Integer> ids = new HashSet<>();
            List<int[]> boxes = new ArrayList<>();
            for (JsonNode panel : d.path("panels")) {
                String title = panel.path("title").asString();
                assertThat(ids.add(panel.path("id").asInt())).as("unique panel id: " + title).isTrue();
                JsonNode pos = panel.path("gridPos");
                int[] box = {pos.path("x").asInt(), pos.path("y").asInt(), pos.path("w").asInt(), pos.path("h").asInt()};
                assertThat(box[2]).as("panel width: " + title).isPositive();
                assertThat(box[0] + box[2]).as("panel inside the 24-column grid: " + title).isLessThanOrEqualTo(24);
                for (int[] other : boxes) {
                    boolean overlap = box[0] < other[0] + other[2] && other[0] < box[0] + box[2]
                            && box[1] < other[1] + other[3] && other[1] < box[1] + box[3];
                    assertThat(overlap).as("panel overlaps another: " + title).isFalse();
                }
                boxes.add(box);
                if ("row".equals(panel.path("type").asString())) {
                    continue;
                }
                assertThat(panel.path("datasource").path("uid").asString()).as("datasource of " + title).isEqualTo(uid);
                assertThat(panel.path("targets").size()).as("queries of " + title).isPositive();
                for (JsonNode target : panel.path("targets")) {
                    assertThat(target.path("expr").asString()).as("query of " + title).isNotBlank();
                    assertThat(target.path("datasource").path("uid").asString()).isEqualTo(uid);
                }
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void prometheusScrapesEveryInstanceAndTheRulesAreComplete() throws IOException, InterruptedException {
        Map<?, ?> config = yaml(PROMETHEUS.resolve("prometheus.yml"));
        assertThat((List<Object>) config.get("rule_files")).containsExactly("/etc/prometheus/alerts.yml");
        Map<?, ?> job = (Map<?, ?>) ((List<?>) config.get("scrape_configs")).get(0);
        assertThat(job.get("job_name")).isEqualTo("booking-service");
        assertThat(job.get("metrics_path")).isEqualTo("/actuator/prometheus");
        // file_sd: every instance the project runs (bin/run's 8080 and the fleet's 8281-8283).
        Set<String> targets = new HashSet<>();
        Set<String> deployments = new HashSet<>();
        for (Object group : new Yaml().loadAs(Files.readString(PROMETHEUS.resolve("targets/booking-service.yml")), List.class)) {
            targets.addAll((List<String>) ((Map<?, ?>) group).get("targets"));
            deployments.add(String.valueOf(((Map<?, ?>) ((Map<?, ?>) group).get("labels")).get("deployment")));
        }
        assertThat(targets).containsExactlyInAnyOrder("host.docker.internal:8080", "host.docker.internal:8281",
                "host.docker.internal:8282", "host.docker.internal:8283");
        assertThat(deployments).doesNotContain("null"); // InstanceDown compares an instance with its deployment

        Set<String> names = new HashSet<>();
        for (Map<?, ?> rule : alertRules()) {
            String name = String.valueOf(rule.get("alert"));
            assertThat(names.add(name)).as("unique alert " + name).isTrue();
            assertThat(String.valueOf(rule.get("expr"))).as(name).isNotBlank();
            assertThat(((Map<?, ?>) rule.get("labels")).get("severity")).as("severity of " + name).isIn("page", "warn");
            assertThat(((Map<?, ?>) rule.get("annotations")).get("summary")).as("summary of " + name).isNotNull();
        }
        assertThat(names).contains("InstanceDown", "ServiceDown", "AdmissionStopped", "KafkaDeliveryStalled", "DatabasePoolSaturated");

        Path promtool = promtool();
        if (promtool == null) {
            System.out.println("ObservabilityConfigTest: no promtool (bin/infra promtool fetches it): structure checks only");
            return;
        }
        // promtool reads rule_files relative to the config: a copy whose paths point into the repository.
        Path dir = Files.createTempDirectory("prometheus-config");
        Path copy = dir.resolve("prometheus.yml");
        Files.writeString(copy, Files.readString(PROMETHEUS.resolve("prometheus.yml")).replace("/etc/prometheus/", PROMETHEUS + "/"));
        assertThat(run(promtool.toString(), "check", "config", copy.toString())).contains("SUCCESS");
        assertThat(run(promtool.toString(), "check", "rules", PROMETHEUS.resolve("alerts.yml").toString())).contains("SUCCESS");
        assertThat(run(promtool.toString(), "test", "rules", PROMETHEUS.resolve("alerts_test.yml").toString())).contains("SUCCESS");
    }

    // ------------------------------------------------------------------ helpers

    /**
     * Every meter of the application exists once something used it (per-concert queue gauges, holds, payments,
     * cancellations, expiries are registered on first use): one small journey, then the scrape's metric names
     * with their label names.
     */
    private Map<String, Set<String>> exportedMetricsAfterAJourney() {
        CreatedConcert concert = createConcert(3);
        long fan = createUser(1_000_000);
        join(fan, concert.concertId()); // the next admission pass registers this concert's waiting/active gauges
        var held = hold(fan, concert, 1);
        pay(fan, concert.concertId(), held.reservationId(), unique("key"));
        cancel(held.reservationId(), fan);
        var expiring = hold(fan, concert, 2);
        // The application's clock and column convention (UTC), not the database server's NOW().
        db.sql("UPDATE reservation SET held_until = :past WHERE id = :id")
                .bind("past", TimeConfig.toDb(java.time.Instant.now().minus(Duration.ofMinutes(1))))
                .bind("id", expiring.reservationId()).fetch().rowsUpdated().block();
        await().atMost(Duration.ofSeconds(15)).until(() -> {
            sweepExpiredHolds();
            return "EXPIRED".equals(storedStatus(expiring.reservationId()));
        });
        Map<String, Set<String>> exported = new HashMap<>();
        await().atMost(Duration.ofSeconds(15)).until(() -> {
            exported.clear();
            exported.putAll(parseScrape(prometheusScrape()));
            return exported.containsKey("booking_queue_waiting") && exported.containsKey("booking_holds_expired_total");
        });
        return exported;
    }

    private static Map<String, Set<String>> parseScrape(String scrape) {
        Map<String, Set<String>> metrics = new HashMap<>();
        Pattern label = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"");
        for (String line : scrape.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = line.indexOf(' ');
            String name = line.substring(0, brace >= 0 && brace < space ? brace : space);
            Set<String> labels = metrics.computeIfAbsent(name, n -> new HashSet<>());
            if (brace >= 0 && brace < space) {
                Matcher m = label.matcher(line.substring(brace, line.lastIndexOf('}')));
                while (m.find()) {
                    labels.add(m.group(1));
                }
            }
        }
        return metrics;
    }

    /** Metric names of a PromQL expression with the label names their matchers use. */
    static Map<String, Set<String>> selectors(String expr) {
        String e = expr.replaceAll("\\[[^\\]]*\\]", " ")                   // range durations, [$__rate_interval]
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        Map<String, Set<String>> selectors = new LinkedHashMap<>();
        Matcher m = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*(\\{[^}]*\\})?(\\s*\\()?").matcher(e);
        while (m.find()) {
            String name = m.group(1);
            if (m.group(3) != null || PROMQL_WORDS.contains(name.toLowerCase()) || isInsideMatcherOrNumber(e, m.start())) {
                continue; // a function call, an operator word, or a label name/value or exponent
            }
            Set<String> labels = selectors.computeIfAbsent(name, n -> new HashSet<>());
            if (m.group(2) != null) {
                Matcher l = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)").matcher(m.group(2).replaceAll("\"[^\"]*\"", "\"\""));
                while (l.find()) {
                    labels.add(l.group(1));
                }
            }
        }
        return selectors;
    }

    private static boolean isInsideMatcherOrNumber(String e, int at) {
        int open = e.lastIndexOf('{', at);
        if (open >= 0 && e.indexOf('}', open) > at) {
            return true;
        }
        return at > 0 && (Character.isDigit(e.charAt(at - 1)) || e.charAt(at - 1) == '.' || e.charAt(at - 1) == '$');
    }

    /** Labels named in by (...), without (...), on (...) of an expression. */
    static Set<String> groupingLabels(String expr) {
        Set<String> labels = new HashSet<>();
        Matcher m = Pattern.compile("\\b(by|without|on|ignoring)\\s*\\(([^)]*)\\)").matcher(expr);
        while (m.find()) {
            for (String label : m.group(2).split(",")) {
                if (!label.isBlank()) {
                    labels.add(label.trim());
                }
            }
        }
        return labels;
    }

    private Map<String, List<String>> dashboardExpressions() throws IOException {
        Map<String, List<String>> exprs = new LinkedHashMap<>();
        try (var files = Files.list(GRAFANA.resolve("dashboards"))) {
            for (Path file : files.filter(p -> p.toString().endsWith(".json")).toList()) {
                JsonNode d = json.readTree(file.toFile());
                for (JsonNode panel : d.path("panels")) {
                    for (JsonNode target : panel.path("targets")) {
                        exprs.computeIfAbsent(panel.path("title").asString(), t -> new ArrayList<>()).add(target.path("expr").asString());
                    }
                }
                for (JsonNode variable : d.path("templating").path("list")) {
                    String query = variable.path("query").path("query").asString();
                    Matcher m = Pattern.compile("label_values\\((.*),\\s*\\w+\\)").matcher(query);
                    if (m.matches()) {
                        exprs.computeIfAbsent("variable " + variable.path("name").asString(), t -> new ArrayList<>()).add(m.group(1));
                    }
                }
            }
        }
        assertThat(exprs).isNotEmpty();
        return exprs;
    }

    private static List<Map<?, ?>> alertRules() throws IOException {
        List<Map<?, ?>> rules = new ArrayList<>();
        for (Object group : (List<?>) yaml(PROMETHEUS.resolve("alerts.yml")).get("groups")) {
            for (Object rule : (List<?>) ((Map<?, ?>) group).get("rules")) {
                rules.add((Map<?, ?>) rule);
            }
        }
        return rules;
    }

    private static Map<?, ?> yaml(Path file) throws IOException {
        return new Yaml().loadAs(Files.readString(file), Map.class);
    }

    /** PROMTOOL, else the copy bin/infra promtool keeps in the cache, else one on the PATH; null when none. */
    private static Path promtool() {
        List<Path> candidates = new ArrayList<>();
        if (System.getenv("PROMTOOL") != null) {
            candidates.add(Path.of(System.getenv("PROMTOOL")));
        }
        String cache = System.getenv().getOrDefault("BOOKING_CACHE_DIR", System.getProperty("user.home") + "/.cache/booking-service");
        candidates.add(Path.of(cache, "promtool", "promtool"));
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            candidates.add(Path.of(dir, "promtool"));
        }
        return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", command) + "\n" + out).isZero();
        return out;
    }
}
