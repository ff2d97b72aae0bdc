package com.concertbooking.auth;

import java.lang.reflect.Constructor;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import com.concertbooking.queue.QueueService;
import com.concertbooking.queue.TestPasses;
import com.concertbooking.support.TimeConfig;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.Mockito;
import org.mockito.invocation.InvocationOnMock;
import org.mockito.stubbing.Answer;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanFactoryPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.webflux.test.autoconfigure.WebFluxTest;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Import;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.reactive.result.method.RequestMappingInfo;
import org.springframework.web.reactive.result.method.annotation.RequestMappingHandlerMapping;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyString;
import static org.springframework.security.test.web.reactive.server.SecurityMockServerConfigurers.mockJwt;
import static org.springframework.security.test.web.reactive.server.SecurityMockServerConfigurers.springSecurity;

/**
 * SPEC 3's Auth and Queue columns, route by route, as they are enforced: the real security chain, the real argument
 * resolvers ({@link Caller}, queue passes) and the real controllers in a WebFlux slice whose services are mocks that
 * answer empty. Every route of every controller is called by each role, GET routes also with HEAD, and must end as the
 * route's class says; a controller route this test has no class for fails it, so a new route gets its expectation here.
 * (The whole application's routes, actuator and static files included, are walked by {@link AccessControlTest}.)
 */
@WebFluxTest
@Import({SecurityConfig.class, DevIssuer.class, Throttle.class, TimeConfig.class, RouteAccessTest.MockCollaborators.class})
@EnableConfigurationProperties({AuthProperties.class, AdminProperties.class})
class RouteAccessTest {

    /** How SPEC 3 opens a route: to anyone, to a fan, to a fan for their own user id only, to operators. */
    enum Access { PUBLIC, FAN, OWNER, OPERATOR }

    /** The expected class of every controller route, by "METHOD pattern". */
    static final Map<String, Access> ROUTES = new LinkedHashMap<>();

    static {
        for (String route : List.of("GET /api/v1/concerts", "GET /api/v1/concerts/{concertId}", "GET /api/v1/concerts/{concertId}/dates",
                "GET /api/v1/concerts/{concertId}/sale", "GET /api/v1/concerts/dates/{concertDateId}/layout", "GET /api/v1/queues/stream",
                "POST /api/v1/auth/login", "GET /.well-known/jwks.json", "POST /api/v1/auth/refresh", "POST /api/v1/auth/logout")) {
            ROUTES.put(route, Access.PUBLIC);
        }
        for (String route : List.of("GET /api/v1/users/{userId}/balance", "PATCH /api/v1/users/{userId}/charge", "PATCH /api/v1/{userId}/charge",
                "GET /api/v1/reservations/{userId}", "DELETE /api/v1/reservations/{reservationId}", "POST /api/v1/reservations",
                "POST /api/v1/payments/pay", "POST /api/v1/queues/token")) {
            ROUTES.put(route, Access.OWNER);
        }
        for (String route : List.of("GET /api/v1/queues/status", "DELETE /api/v1/queues/token", "GET /api/v1/concerts/dates/{concertDateId}/seats",
                "GET /api/v1/concerts/dates/{concertDateId}/availability")) {
            ROUTES.put(route, Access.FAN);
        }
    }

    static final long FAN = 7, OTHER_FAN = 8, CONCERT = 1;
    /** One body for every route: the fields of all request records, naming the fan (unknown fields are ignored). */
    static final String BODY = "{\"userId\":" + FAN + ",\"concertId\":" + CONCERT + ",\"concertDateId\":1,\"seatNumber\":1,"
            + "\"reservationId\":1,\"amount\":100,\"username\":\"fan-seven\",\"password\":\"password-7\",\"count\":1,"
            + "\"admitPerTick\":1,\"maxActive\":1}";

    /**
     * The callers, each acting on the fan's ids (path, query, body) and presenting the fan's ACTIVE queue token, except
     * the other fan, who presents their own; the thief presents the fan's.
     */
    static final Map<String, UnaryOperator<WebTestClient>> ROLES = new LinkedHashMap<>();

    static {
        var authorities = SecurityConfig.authorities("booking.admin");
        ROLES.put("anonymous", client -> client);
        ROLES.put("fan", client -> client.mutateWith(mockJwt().jwt(j -> j.subject(Long.toString(FAN))).authorities(authorities)));
        ROLES.put("other fan", client -> client.mutate().defaultHeader(QueuePass.HEADER, TestPasses.token(OTHER_FAN, CONCERT, "ACTIVE")).build()
                .mutateWith(mockJwt().jwt(j -> j.subject(Long.toString(OTHER_FAN))).authorities(authorities)));
        ROLES.put("thief", client -> client.mutateWith(mockJwt().jwt(j -> j.subject(Long.toString(OTHER_FAN))).authorities(authorities)));
        ROLES.put("admin key", client -> client.mutate().defaultHeader(SecurityConfig.ADMIN_KEY_HEADER, "dev-admin-key").build());
        ROLES.put("admin scope", client -> client.mutateWith(mockJwt().jwt(j -> j.subject("ops-team").claim("scope", "booking.admin"))
                .authorities(authorities)));
    }

    /** The outcome each role must get, per class: PASS (the handler answered), or a refusal's status and code. */
    static String expected(Access access, String role) {
        return switch (access) {
            case PUBLIC -> "PASS";
            case FAN, OWNER -> switch (role) {
                case "fan" -> "PASS";
                case "other fan" -> access == Access.FAN ? "PASS" : "403 FORBIDDEN";
                case "anonymous", "admin key" -> "401 UNAUTHENTICATED";
                default -> "403 FORBIDDEN";
            };
            case OPERATOR -> switch (role) {
                case "admin key", "admin scope" -> "PASS";
                case "anonymous" -> "401 ADMIN_KEY_INVALID";
                default -> "403 FORBIDDEN";
            };
        };
    }

    @org.springframework.beans.factory.annotation.Autowired
    ApplicationContext context;

    @org.springframework.beans.factory.annotation.Autowired
    QueueService queue;

    @org.springframework.beans.factory.annotation.Autowired
    jakarta.validation.Validator validator;

    WebTestClient web;

    record Probe(@jakarta.validation.constraints.NotNull Object value) {}

    @BeforeEach
    void setUp() {
        // Hibernate Validator reads its message bundle on the first failure: here, not on an event loop (BlockHound).
        validator.validate(new Probe(null)).forEach(v -> v.getMessage());
        web = WebTestClient.bindToApplicationContext(context).apply(springSecurity()).configureClient()
                .defaultHeader(QueuePass.HEADER, TestPasses.token(FAN, CONCERT, "ACTIVE")).build();
        Mockito.when(queue.verify(anyString())).thenAnswer(call -> TestPasses.verify(call.getArgument(0)));
    }

    @Test
    void everyRouteAnswersEachRoleAsItsClassSays() {
        List<String> routes = new ArrayList<>();
        context.getBean(RequestMappingHandlerMapping.class).getHandlerMethods().keySet().forEach(info -> routes.addAll(routes(info)));
        assertThat(routes).as("controller routes").hasSizeGreaterThan(20);
        List<String> outcomes = new ArrayList<>(), wrong = new ArrayList<>();
        for (String route : routes) {
            String[] parts = route.split(" ", 2);
            Access access = parts[1].startsWith("/api/v1/admin/") ? Access.OPERATOR : ROUTES.get(route);
            assertThat(access).as("the access class of " + route + " (add it to ROUTES, as SPEC 3 says)").isNotNull();
            ROLES.forEach((role, as) -> {
                String outcome = call(as.apply(web), HttpMethod.valueOf(parts[0]), parts[1]);
                outcomes.add(route + " as " + role + ": " + outcome);
                if (!outcome.equals(expected(access, role))) {
                    wrong.add(route + " as " + role + ": " + outcome + ", expected " + expected(access, role));
                }
                if (parts[0].equals("GET")) {
                    String head = call(as.apply(web), HttpMethod.HEAD, parts[1]);
                    if (!head.split(" ")[0].equals(outcome.split(" ")[0])) {
                        wrong.add("HEAD " + parts[1] + " as " + role + ": " + head + ", but GET: " + outcome);
                    }
                }
            });
        }
        System.out.println(String.join("\n", outcomes));
        assertThat(wrong).as("routes answering a role otherwise than their class says").isEmpty();
    }

    /** PASS when the handler answered (whatever it made of the empty mocks), else "status code" of the refusal. */
    private static String call(WebTestClient client, HttpMethod method, String pattern) {
        String path = pattern.replace("{userId}", Long.toString(FAN)).replaceAll("\\{[^}]+}", "1");
        String query = path.startsWith("/api/v1/reservations/") && method == HttpMethod.DELETE ? "?userId=" + FAN
                : path.endsWith("/queues/stream") ? "?token=" + TestPasses.token(FAN, CONCERT, "WAITING")
                : path.startsWith("/api/v1/admin/notifications") ? "?userId=" + FAN : "";
        var spec = client.method(method).uri(path + query);
        var result = (method == HttpMethod.POST || method == HttpMethod.PUT || method == HttpMethod.PATCH
                ? spec.contentType(MediaType.APPLICATION_JSON).bodyValue(BODY) : spec)
                .exchange().expectBody(String.class).returnResult();
        int status = result.getStatus().value();
        if (status != 401 && status != 403) {
            assertThat(status).as(method + " " + path + " answered by its handler").isLessThan(500);
            return "PASS";
        }
        String body = result.getResponseBody() == null ? "" : result.getResponseBody();
        var code = java.util.regex.Pattern.compile("\"code\":\"([A-Z_]+)\"").matcher(body);
        return status + (code.find() ? " " + code.group(1) : "");
    }

    private static List<String> routes(RequestMappingInfo info) {
        Set<org.springframework.web.bind.annotation.RequestMethod> methods = info.getMethodsCondition().getMethods();
        List<String> out = new ArrayList<>();
        info.getPatternsCondition().getPatterns().forEach(p -> (methods.isEmpty() ? Set.of(org.springframework.web.bind.annotation.RequestMethod.GET)
                : methods).forEach(m -> out.add(m.name() + " " + p.getPatternString())));
        return out;
    }

    /**
     * Mocks for what the slice's beans of ours (controllers, resolvers, the security chain's helpers) need and the slice
     * does not hold (stores, services, clients), whatever they are: reactive methods answer empty, fluent ones another
     * such mock.
     */
    static class MockCollaborators implements BeanFactoryPostProcessor {

        @Override
        public void postProcessBeanFactory(ConfigurableListableBeanFactory beanFactory) {
            for (String name : beanFactory.getBeanDefinitionNames()) {
                Class<?> type = beanFactory.getType(name, false);
                if (type == null || !type.getName().startsWith("com.concertbooking.")
                        || AnnotatedElementUtils.hasAnnotation(type, ConfigurationProperties.class)) {
                    continue;
                }
                for (Constructor<?> constructor : type.getDeclaredConstructors()) {
                    for (java.lang.reflect.Parameter parameter : constructor.getParameters()) {
                        Class<?> dependency = parameter.getType();
                        if (dependency.isPrimitive() || dependency.getName().startsWith("java.") || Modifier.isFinal(dependency.getModifiers())
                                || dependency == ObjectProvider.class || parameter.isAnnotationPresent(org.springframework.beans.factory.annotation.Value.class)
                                || AnnotatedElementUtils.hasAnnotation(dependency, ConfigurationProperties.class)
                                || beanFactory.getBeanNamesForType(dependency, true, false).length > 0) {
                            continue;
                        }
                        beanFactory.registerSingleton(dependency.getName(), Mockito.mock(dependency, EMPTY));
                    }
                }
            }
        }
    }

    static final Answer<Object> EMPTY = new Answer<>() {
        @Override
        public Object answer(InvocationOnMock invocation) throws Throwable {
            Class<?> type = invocation.getMethod().getReturnType();
            if (type == Mono.class) {
                return Mono.empty();
            }
            if (type == Flux.class) {
                return Flux.empty();
            }
            if (!type.isPrimitive() && !Modifier.isFinal(type.getModifiers()) && !type.getName().startsWith("java.")) {
                return Mockito.mock(type, this);
            }
            return Mockito.RETURNS_DEFAULTS.answer(invocation);
        }
    };
}
