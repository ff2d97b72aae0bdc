package com.concertbooking.auth;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.concertbooking.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ApplicationContext;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.handler.AbstractUrlHandlerMapping;
import org.springframework.web.reactive.result.method.RequestMappingInfo;
import org.springframework.web.reactive.result.method.RequestMappingInfoHandlerMapping;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.authority.AuthorityUtils;
import org.springframework.security.core.context.ReactiveSecurityContextHolder;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.WebFilterChainProxy;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;

/** SPEC 11 deny-by-default: every route has a rule, paths are matched decoded, the firewall and HEAD hold no surprises. */
class AccessControlTest extends IntegrationTest {

    @Autowired
    ApplicationContext context;

    /** All the application's chains in their order (the SSE stream has one of its own, ahead of the main one). */
    @Autowired
    java.util.List<SecurityWebFilterChain> securityChains;

    /**
     * Walks every handler mapping of the running application (controllers, actuator, springdoc, static resources) and
     * runs each route through the real security chain as an anonymous caller, a fan and an operator, stopping where the
     * handler would start: a route no rule opens to anyone is one without a rule (only {@code denyAll} caught it), and
     * fails here. A new route is closed until someone writes its rule in {@link SecurityConfig#routes}.
     */
    @Test
    void everyRouteOfTheApplicationHasARule() {
        List<String> routes = new ArrayList<>();
        context.getBeansOfType(RequestMappingInfoHandlerMapping.class).values().forEach(mapping ->
                mapping.getHandlerMethods().keySet().forEach(info -> routes.addAll(concrete(info))));
        context.getBeansOfType(AbstractUrlHandlerMapping.class).values().forEach(mapping ->
                mapping.getHandlerMap().keySet().forEach(pattern -> routes.add("GET " + example(pattern.getPatternString()))));
        context.getBeansOfType(org.springframework.web.reactive.function.server.support.RouterFunctionMapping.class).values()
                .forEach(mapping -> {
                    if (mapping.getRouterFunction() != null) {
                        mapping.getRouterFunction().accept(new RoutesOfRouterFunctions(routes));
                    }
                });
        assertThat(routes).as("handler mappings found").hasSizeGreaterThan(20).contains("GET /", "GET /ops", "HEAD /");

        Map<String, List<String>> admitted = new java.util.TreeMap<>();
        for (String route : routes) {
            List<String> roles = new ArrayList<>();
            ROLES.forEach((role, authentication) -> {
                if (reachesHandler(route, authentication)) {
                    roles.add(role);
                }
            });
            admitted.put(route, roles);
        }
        assertThat(admitted).as("routes no rule opens to anyone").allSatisfy((route, roles) -> assertThat(roles).as(route).isNotEmpty());
        // The rules themselves: operator routes are operators' only, and a fan's routes are no one else's.
        admitted.forEach((route, roles) -> {
            String path = route.split(" ", 2)[1];
            if (path.startsWith("/api/v1/admin") || (path.startsWith("/actuator") && !path.matches("/actuator/(health/(liveness|readiness)|prometheus)"))) {
                assertThat(roles).as(route).containsExactly("operator");
            }
            if (path.matches("/api/v1/(users|reservations|payments)(/.*)?") || path.matches("/api/v1/1/charge")) {
                assertThat(roles).as(route).containsExactly("fan");
            }
        });
    }

    private static final Map<String, Authentication> ROLES = new java.util.LinkedHashMap<>();

    static {
        Jwt fan = Jwt.withTokenValue("t").header("alg", "RS256").subject("1").build();
        ROLES.put("anonymous", null);
        ROLES.put("fan", new JwtAuthenticationToken(fan, SecurityConfig.authorities("booking.admin").convert(fan)));
        ROLES.put("operator", UsernamePasswordAuthenticationToken.authenticated("operator", null,
                AuthorityUtils.createAuthorityList(SecurityConfig.ADMIN)));
    }

    /** Whether the security chain lets this caller through to the route's handler (which is not run). */
    private boolean reachesHandler(String route, Authentication authentication) {
        String[] parts = route.split(" ", 2);
        var exchange = MockServerWebExchange.from(MockServerHttpRequest.method(HttpMethod.valueOf(parts[0]), parts[1]));
        java.util.concurrent.atomic.AtomicBoolean reached = new java.util.concurrent.atomic.AtomicBoolean();
        Mono<Void> run = new WebFilterChainProxy(securityChains).filter(exchange, ex -> {
            reached.set(true);
            return Mono.empty();
        });
        if (authentication != null) {
            run = run.contextWrite(ReactiveSecurityContextHolder.withAuthentication(authentication));
        }
        run.onErrorResume(e -> Mono.empty()).block(java.time.Duration.ofSeconds(5));
        return reached.get() && exchange.getResponse().getStatusCode() == null;
    }

    /** Functional routes (the web pages): each path predicate with its methods. */
    private static final class RoutesOfRouterFunctions implements org.springframework.web.reactive.function.server.RouterFunctions.Visitor,
            org.springframework.web.reactive.function.server.RequestPredicates.Visitor {

        private final List<String> routes;
        private final List<String> methods = new ArrayList<>();
        private final List<String> paths = new ArrayList<>();

        RoutesOfRouterFunctions(List<String> routes) {
            this.routes = routes;
        }

        @Override
        public void route(org.springframework.web.reactive.function.server.RequestPredicate predicate,
                          org.springframework.web.reactive.function.server.HandlerFunction<?> handler) {
            methods.clear();
            paths.clear();
            predicate.accept(this);
            for (String path : paths) {
                for (String method : methods.isEmpty() ? List.of("GET") : methods) {
                    routes.add(method + " " + example(path));
                }
            }
        }

        @Override
        public void method(Set<HttpMethod> httpMethods) {
            httpMethods.forEach(m -> methods.add(m.name()));
        }

        @Override
        public void path(String pattern) {
            paths.add(pattern);
        }

        @Override public void startNested(org.springframework.web.reactive.function.server.RequestPredicate predicate) {}
        @Override public void endNested(org.springframework.web.reactive.function.server.RequestPredicate predicate) {}
        @Override public void resources(java.util.function.Function<org.springframework.web.reactive.function.server.ServerRequest, Mono<org.springframework.core.io.Resource>> lookup) {}
        @Override public void attributes(Map<String, Object> attributes) {}
        @Override public void unknown(org.springframework.web.reactive.function.server.RouterFunction<?> routerFunction) {}
        @Override public void pathExtension(String extension) {}
        @Override public void header(String name, String value) {}
        @Override public void queryParam(String name, String value) {}
        @Override public void version(String version) {}
        @Override public void startAnd() {}
        @Override public void and() {}
        @Override public void endAnd() {}
        @Override public void startOr() {}
        @Override public void or() {}
        @Override public void endOr() {}
        @Override public void startNegate() {}
        @Override public void endNegate() {}
        @Override public void unknown(org.springframework.web.reactive.function.server.RequestPredicate predicate) {}
    }

    private static List<String> concrete(RequestMappingInfo info) {
        Set<org.springframework.web.bind.annotation.RequestMethod> methods = info.getMethodsCondition().getMethods();
        List<String> names = methods.isEmpty() ? List.of("GET", "POST", "PUT", "PATCH", "DELETE")
                : methods.stream().map(Enum::name).toList();
        List<String> out = new ArrayList<>();
        info.getPatternsCondition().getPatterns().forEach(p -> names.forEach(m -> out.add(m + " " + example(p.getPatternString()))));
        return out;
    }

    /** A path the pattern matches: variables become 1, wildcards a segment. */
    private static String example(String pattern) {
        return pattern.replaceAll("\\{\\*[^}]*}", "x").replaceAll("\\{[^}]*}", "1").replace("/**", "/x").replace("*", "x");
    }

    /** SPEC 12's pages are plain static documents: their CSP and the other security headers are Spring Security's, like every answer's. */
    @Test
    void securityHeadersComeWithEveryAnswer() {
        for (String page : new String[] {"/", "/ops"}) {
            web.get().uri(page).exchange().expectStatus().isOk()
                    .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_HTML)
                    .expectHeader().valueEquals("Content-Security-Policy", SecurityConfig.CSP)
                    .expectHeader().valueEquals("X-Content-Type-Options", "nosniff")
                    .expectHeader().valueEquals("Referrer-Policy", "no-referrer")
                    .expectHeader().valueEquals("X-Frame-Options", "DENY")
                    .expectHeader().valueEquals(HttpHeaders.CACHE_CONTROL, "no-cache");
            web.head().uri(page).exchange().expectStatus().isOk().expectHeader().valueEquals("Content-Security-Policy", SecurityConfig.CSP);
        }
        assertThat(SecurityConfig.CSP).contains("script-src 'self';").contains("frame-ancestors 'none'").doesNotContain("unsafe");
        web.get().uri("/assets/fan.js").exchange().expectStatus().isOk().expectHeader().valueEquals("X-Content-Type-Options", "nosniff");
        web.get().uri("/api/v1/concerts").exchange().expectStatus().isOk()
                .expectHeader().valueEquals("Content-Security-Policy", SecurityConfig.CSP)
                .expectHeader().valueEquals("X-Content-Type-Options", "nosniff");
        web.get().uri("/api/v1/no-such-route").exchange().expectStatus().isNotFound()
                .expectHeader().valueEquals("X-Content-Type-Options", "nosniff");
        // Swagger UI styles its elements inline; its scripts are still this origin's files only.
        web.get().uri("/swagger-ui.html").exchange().expectStatus().is3xxRedirection()
                .expectHeader().valueEquals("Content-Security-Policy", SecurityConfig.DOCS_CSP);
        assertThat(SecurityConfig.DOCS_CSP).contains("script-src 'self';");
    }

    /** The OpenAPI document's security is read from the handlers' signatures and the operator paths: it says what is enforced. */
    @Test
    @SuppressWarnings("unchecked")
    void theOpenApiDocumentSaysWhatIsEnforced() {
        Map<String, Object> doc = web.mutate().codecs(c -> c.defaultCodecs().maxInMemorySize(4 * 1024 * 1024)).build()
                .get().uri("/v3/api-docs").exchange().expectStatus().isOk().expectBody(Map.class).returnResult().getResponseBody();
        Map<String, Map<String, Map<String, Object>>> paths = (Map<String, Map<String, Map<String, Object>>>) doc.get("paths");
        java.util.function.BiFunction<String, String, String> security = (method, path) ->
                String.valueOf(paths.get(path).get(method).get("security"));
        assertThat(security.apply("get", "/api/v1/concerts")).isEqualTo("[]");
        assertThat(security.apply("get", "/api/v1/queues/stream")).isEqualTo("[]");
        assertThat(security.apply("get", "/api/v1/users/{userId}/balance")).isEqualTo("[{accessToken=[]}]");
        assertThat(security.apply("get", "/api/v1/concerts/dates/{concertDateId}/seats")).isEqualTo("[{accessToken=[], queueToken=[]}]");
        assertThat(security.apply("post", "/api/v1/payments/pay")).isEqualTo("[{accessToken=[], queueToken=[]}]");
        assertThat(security.apply("post", "/api/v1/queues/token")).isEqualTo("[{accessToken=[], queueToken=[]}]");
        assertThat(security.apply("post", "/api/v1/admin/users")).isEqualTo("[{adminKey=[]}, {accessToken=[]}]");
        // The caller and the passes are resolved from credentials: no request parameter or body names them.
        assertThat(String.valueOf(paths)).doesNotContain("caller").doesNotContain("ActivePass").doesNotContain("PaymentPass")
                .doesNotContain("LivePass").doesNotContain("\"presented\"");
    }

    /**
     * The SSE stream's own chain (issue 18 item 6): GET and HEAD of the stream path only, and of its filters only the
     * security headers' writer (its answers carry the same headers as every answer); any other method on the path is
     * the main chain's.
     */
    @Test
    void theStreamsChainOnlyWritesTheSecurityHeaders() {
        for (HttpMethod method : List.of(HttpMethod.GET, HttpMethod.HEAD)) {
            var exchange = MockServerWebExchange.from(MockServerHttpRequest.method(method, SecurityConfig.STREAM_PATH));
            SecurityWebFilterChain chain = securityChains.stream().filter(c -> Boolean.TRUE.equals(c.matches(exchange).block()))
                    .findFirst().orElseThrow();
            assertThat(chain.getWebFilters().collectList().block()).as(method + " stream")
                    .singleElement().isInstanceOf(org.springframework.security.web.server.header.HttpHeaderWriterWebFilter.class);
        }
        var post = MockServerWebExchange.from(MockServerHttpRequest.post(SecurityConfig.STREAM_PATH));
        SecurityWebFilterChain main = securityChains.stream().filter(c -> Boolean.TRUE.equals(c.matches(post).block())).findFirst().orElseThrow();
        assertThat(main.getWebFilters().collectList().block()).as("POST stream: the main chain").hasSizeGreaterThan(5);
        web.get().uri(SecurityConfig.STREAM_PATH + "?token=garbage").exchange().expectStatus().isUnauthorized()
                .expectHeader().valueEquals("Content-Security-Policy", SecurityConfig.CSP)
                .expectHeader().valueEquals("X-Content-Type-Options", "nosniff")
                .expectHeader().valueEquals("X-Frame-Options", "DENY")
                .expectHeader().valueEquals("Referrer-Policy", "no-referrer");
    }

    @Test
    void routesWithoutARuleAreClosed() {
        // Nothing without a rule reaches a handler: an unknown path is a 404, an unnamed method a 405.
        web.get().uri("/api/v1/no-such-route").exchange().expectStatus().isNotFound()
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON);
        asUser(createUser(0)).get().uri("/api/v1/no-such-route").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.code").isEqualTo("NOT_FOUND");
        // The public catalog is open, and so is HEAD on it.
        web.get().uri("/api/v1/concerts").exchange().expectStatus().isOk();
        web.head().uri("/api/v1/concerts").exchange().expectStatus().isOk();
        // A method the rule does not name is closed too.
        web.post().uri("/api/v1/concerts").contentType(MediaType.APPLICATION_JSON).bodyValue("{}").exchange()
                .expectStatus().isEqualTo(405).expectBody().jsonPath("$.code").isEqualTo("METHOD_NOT_ALLOWED");
    }

    /** The issue's attacks: encoded and ;-laden paths reached the admin API and the seat map without credentials. */
    @Test
    void encodedAndParameterLadenPathsNeitherBypassNorReachHandlers() {
        long usersBefore = countUsers();
        String body = "{\"username\":\"" + unique("intruder") + "\",\"balance\":1000000000}";
        // %61 is 'a': decoded, this is the admin route, so it needs the admin key like the plain spelling.
        raw("POST", "/api/v1/%61dmin/users", body, Map.of()).expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.code").isEqualTo("ADMIN_KEY_INVALID");
        for (String path : new String[] {"/api/v1;x/admin/users", "/api/v1/admin;x/users", "/api/v1/%2e%2e/api/v1/admin/users",
                "/api/v1/concerts/..%2F..%2Fadmin/users", "/api/v1/admin%2Fusers", "/api/v1/%25%36%31dmin/users", "/api/v1/admin/./users",
                "/api/v1/concerts/../admin/users", "/api/v1/admin/users%00"}) {
            raw("POST", path, body, Map.of()).expectStatus().isBadRequest()
                    .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON)
                    .expectBody().jsonPath("$.code").isEqualTo("REQUEST_REJECTED").jsonPath("$.detail").isNotEmpty();
        }
        assertThat(countUsers()).isEqualTo(usersBefore);

        raw("GET", "/api/v1;x/concerts/dates/1/seats", null, Map.of()).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.code").isEqualTo("REQUEST_REJECTED");
        raw("HEAD", "/api/v1/concerts/dates/1/seats", null, Map.of()).expectStatus().isUnauthorized();
        raw("GET", "/api/v1/concerts/dates/%31/seats", null, Map.of()).expectStatus().isUnauthorized();
        // The same tricks on the other operator routes: queue view and policy, notifications.
        raw("GET", "/api/v1/%61dmin/queues/1", null, Map.of()).expectStatus().isUnauthorized();
        raw("PUT", "/api/v1/%61dmin/queues/1/policy", "{\"admitPerTick\":0,\"maxActive\":1}", Map.of()).expectStatus().isUnauthorized();
        raw("GET", "/api/v1/%61dmin/notifications?userId=1", null, Map.of()).expectStatus().isUnauthorized();
        raw("GET", "/api/v1/admin/notifications;x=1?userId=1", null, Map.of()).expectStatus().isBadRequest();
        // An odd method is refused before any handler.
        raw("TRACE", "/api/v1/concerts", null, Map.of()).expectStatus().isBadRequest();
    }

    private long countUsers() {
        return database.sql("SELECT COUNT(*) AS n FROM users").map(r -> r.get("n", Long.class)).one().block();
    }

    @Test
    void operatorsByKeyOrAdminScopeOnly() {
        long fan = createUser(0);
        asAdmin().get().uri("/api/v1/admin/notifications?userId=1").exchange().expectStatus().isOk();
        web.get().uri("/api/v1/admin/notifications?userId=1").header(SecurityConfig.ADMIN_KEY_HEADER, "wrong").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.code").isEqualTo("ADMIN_KEY_INVALID");
        web.get().uri("/api/v1/admin/notifications?userId=1").header(SecurityConfig.ADMIN_KEY_HEADER, ADMIN_KEY + "x").exchange()
                .expectStatus().isUnauthorized();
        // A fan's token is no operator's, and an admin key does not make its bearer a fan.
        asUser(fan).get().uri("/api/v1/admin/notifications?userId=1").exchange()
                .expectStatus().isForbidden().expectBody().jsonPath("$.code").isEqualTo("FORBIDDEN");
        asAdmin().get().uri("/api/v1/users/{id}/balance", fan).exchange().expectStatus().isUnauthorized();
        // A wrong key on a public route is not even looked at.
        web.get().uri("/api/v1/concerts").header(SecurityConfig.ADMIN_KEY_HEADER, "wrong").exchange().expectStatus().isOk();
        // An admin-scoped access token of the development issuer's key is an operator.
        String adminToken = TestTokens.sign(TestTokens.claims("ops-team").claim("scope", "booking.admin").build());
        web.get().uri("/api/v1/admin/notifications?userId=1").header(HttpHeaders.AUTHORIZATION, "Bearer " + adminToken).exchange()
                .expectStatus().isOk();
        // ... but not a fan: its subject is no user id.
        web.get().uri("/api/v1/users/1/balance").header(HttpHeaders.AUTHORIZATION, "Bearer " + adminToken).exchange()
                .expectStatus().isForbidden();
    }

    /** Actuator per SPEC 11: probes and the scrape open without details, everything else operator-only. */
    @Test
    void actuatorShowsOnlyProbesAndTheScrapeToEveryone() {
        web.get().uri("/actuator/health/liveness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP").jsonPath("$.components").doesNotExist();
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP").jsonPath("$.components").doesNotExist();
        assertThat(prometheusScrape()).contains("jvm_memory_used_bytes");
        for (String path : new String[] {"/actuator/health", "/actuator/metrics", "/actuator/env", "/actuator/loggers", "/actuator/info",
                "/actuator"}) {
            web.get().uri(path).exchange().expectStatus().isUnauthorized();
        }
        asAdmin().get().uri("/actuator/health").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.components.r2dbc").exists().jsonPath("$.components.redis").exists();
        asUser(createUser(0)).get().uri("/actuator/health").exchange().expectStatus().isForbidden();
    }

    /** Tokens that must not pass: each a 401 UNAUTHENTICATED with WWW-Authenticate, never a 500. */
    @Test
    void accessTokensAreCheckedForSignatureIssuerAudienceAndTime() {
        long user = createUser(100);
        String path = "/api/v1/users/" + user + "/balance";
        java.time.Instant now = java.time.Instant.now();
        web.get().uri(path).header(HttpHeaders.AUTHORIZATION, "Bearer " + TestTokens.sign(TestTokens.claims(Long.toString(user)).build()))
                .exchange().expectStatus().isOk();
        // The 60 s skew: just expired or not yet valid within it still passes.
        web.get().uri(path).header(HttpHeaders.AUTHORIZATION, "Bearer " + TestTokens.sign(TestTokens.claims(Long.toString(user))
                .issueTime(java.util.Date.from(now.minusSeconds(3600))).expirationTime(java.util.Date.from(now.minusSeconds(30))).build()))
                .exchange().expectStatus().isOk();
        Map<String, String> refused = new java.util.LinkedHashMap<>();
        refused.put("expired", TestTokens.sign(TestTokens.claims(Long.toString(user)).issueTime(java.util.Date.from(now.minusSeconds(3600)))
                .expirationTime(java.util.Date.from(now.minusSeconds(120))).build()));
        refused.put("not yet valid", TestTokens.sign(TestTokens.claims(Long.toString(user)).notBeforeTime(java.util.Date.from(now.plusSeconds(300))).build()));
        refused.put("no expiry", TestTokens.sign(TestTokens.claims(Long.toString(user)).expirationTime(null).build()));
        refused.put("other audience", TestTokens.sign(TestTokens.claims(Long.toString(user)).audience("someone-else").build()));
        refused.put("other issuer", TestTokens.sign(TestTokens.claims(Long.toString(user)).issuer("https://evil.example").build()));
        refused.put("no issuer", TestTokens.sign(TestTokens.claims(Long.toString(user)).issuer(null).build()));
        refused.put("other key", TestTokens.signWithFreshKey(TestTokens.claims(Long.toString(user)).build()));
        refused.put("HS256 with the public key", TestTokens.hmacWithPublicKey(TestTokens.claims(Long.toString(user)).build()));
        refused.put("alg none", TestTokens.unsigned(TestTokens.claims(Long.toString(user)).build()));
        refused.put("garbage", "not-a-jwt");
        refused.put("queue token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl");
        refused.forEach((what, token) -> web.get().uri(path).header(HttpHeaders.AUTHORIZATION, "Bearer " + token).exchange()
                .expectStatus().isUnauthorized()
                .expectHeader().valueEquals(HttpHeaders.WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")
                .expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED"));
        // A genuine token whose subject is no user id is authenticated, but nobody's fan.
        web.get().uri(path).header(HttpHeaders.AUTHORIZATION, "Bearer " + TestTokens.sign(TestTokens.claims("alice").build()))
                .exchange().expectStatus().isForbidden();
        web.get().uri(path).header(HttpHeaders.AUTHORIZATION, "Basic dXNlcjpwYXNz").exchange().expectStatus().isUnauthorized()
                .expectBody().jsonPath("$.code").isEqualTo("UNAUTHENTICATED");
    }
}
