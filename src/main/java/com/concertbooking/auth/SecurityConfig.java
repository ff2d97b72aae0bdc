package com.concertbooking.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import com.concertbooking.support.ApiException;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.Ids;
import io.netty.channel.ChannelOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.core.convert.converter.Converter;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.ReactiveAuthenticationManager;
import org.springframework.security.authentication.ReactiveAuthenticationManagerResolver;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.config.annotation.web.reactive.EnableWebFluxSecurity;
import org.springframework.security.config.observation.SecurityObservationSettings;
import org.springframework.security.config.web.server.SecurityWebFiltersOrder;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.AuthorityUtils;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.oauth2.core.DelegatingOAuth2TokenValidator;
import org.springframework.security.oauth2.core.OAuth2AuthenticationException;
import org.springframework.security.oauth2.core.OAuth2TokenValidator;
import org.springframework.security.oauth2.jose.jws.SignatureAlgorithm;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.JwtAudienceValidator;
import org.springframework.security.oauth2.jwt.JwtIssuerValidator;
import org.springframework.security.oauth2.jwt.JwtTimestampValidator;
import org.springframework.security.oauth2.jwt.NimbusReactiveJwtDecoder;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;
import org.springframework.security.oauth2.server.resource.authentication.BearerTokenAuthenticationToken;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationConverter;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.security.oauth2.server.resource.authentication.JwtGrantedAuthoritiesConverter;
import org.springframework.security.oauth2.server.resource.authentication.JwtIssuerReactiveAuthenticationManagerResolver;
import org.springframework.security.oauth2.server.resource.authentication.JwtReactiveAuthenticationManager;
import org.springframework.security.oauth2.server.resource.authentication.ReactiveJwtAuthenticationConverterAdapter;
import org.springframework.security.web.server.MatcherSecurityWebFilterChain;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.ServerAuthenticationEntryPoint;
import org.springframework.security.web.server.authentication.AuthenticationWebFilter;
import org.springframework.security.web.server.authorization.ServerAccessDeniedHandler;
import org.springframework.security.web.server.context.NoOpServerSecurityContextRepository;
import org.springframework.security.web.server.firewall.ServerExchangeRejectedHandler;
import org.springframework.security.web.server.header.HttpHeaderWriterWebFilter;
import org.springframework.security.web.server.header.ReferrerPolicyServerHttpHeadersWriter;
import org.springframework.security.web.server.util.matcher.AndServerWebExchangeMatcher;
import org.springframework.security.web.server.util.matcher.NegatedServerWebExchangeMatcher;
import org.springframework.security.web.server.util.matcher.OrServerWebExchangeMatcher;
import org.springframework.security.web.server.util.matcher.ServerWebExchangeMatcher;
import org.springframework.security.web.server.util.matcher.ServerWebExchangeMatchers;
import org.springframework.security.web.server.firewall.ServerWebExchangeFirewall;
import org.springframework.security.web.server.firewall.StrictServerWebExchangeFirewall;
import org.springframework.security.web.server.savedrequest.NoOpServerRequestCache;
import org.springframework.web.reactive.DispatcherHandler;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.server.MethodNotAllowedException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * The service as an OAuth2 resource server (SPEC 11), and who may call which route, in Spring Security's own terms:
 * the route rules below are the Auth column of SPEC 3, closed by default ({@code anyExchange().denyAll()}). Access
 * tokens are validated by Spring's Nimbus decoders (signature, issuer, audience, expiry and not-before with 60 s
 * skew); a token whose subject is a user id makes its bearer a {@link #FAN}; operators are {@link #ADMIN} by
 * {@code X-Admin-Key} or by an access token with the admin scope. The strict firewall stands in front; refusals are
 * problem+json through the application's error handler; security headers (CSP and the rest) are Spring Security's.
 * <p>What a route needs beyond its rule is in its handler's signature: the {@link Caller} (whose user ids the
 * handler checks with {@link Caller#requireSelf} on the values it acts on) and a {@link QueuePass}.
 * Stateless: no session, no CSRF token (no cookies are used).
 */
@Configuration(proxyBeanMethods = false)
@EnableWebFluxSecurity
class SecurityConfig {

    private static final Logger log = LoggerFactory.getLogger(SecurityConfig.class);
    public static final String ADMIN_KEY_HEADER = "X-Admin-Key";
    /** A signed-in fan: an access token whose subject is a user id. */
    static final String FAN = "ROLE_FAN";
    /** An operator: the admin key, or an access token with the admin scope. */
    static final String ADMIN = "ROLE_ADMIN";
    /** Where the admin key is looked at (elsewhere it is no credential at all). */
    static final String[] OPERATOR_PATHS = {"/api/v1/admin/**", "/actuator/**"};
    /** Operations' open reads (SPEC 9, 11): the probes and the Prometheus scrape, without details. */
    static final String[] PUBLIC_PROBES = {"/actuator/health/liveness", "/actuator/health/readiness", "/actuator/prometheus"};
    private static final ServerWebExchangeMatcher OPERATOR_AREA = ServerWebExchangeMatchers.pathMatchers(OPERATOR_PATHS);
    private static final Duration JWKS_TIMEOUT = Duration.ofSeconds(3);

    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    /** Swagger UI styles its elements inline; its scripts are still files of this origin only. */
    static final String DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");

    @Bean
    SecurityWebFilterChain securityWebFilterChain(ServerHttpSecurity http, AuthProperties auth, AdminProperties admin,
                                                  DevIssuer devIssuer, Throttle throttle, ObjectProvider<DispatcherHandler> dispatcher) {
        ServerAuthenticationEntryPoint entryPoint = (exchange, e) -> refuse(exchange, dispatcher, unauthenticated(exchange, e));
        ServerAccessDeniedHandler denied = (exchange, e) -> refuse(exchange, dispatcher, Mono.fromSupplier(() ->
                new ApiException(ErrorCode.FORBIDDEN, "You may not call this route with these credentials")));
        return stateless(http)
                .authorizeExchange(SecurityConfig::routes)
                .oauth2ResourceServer(rs -> rs
                        .authenticationManagerResolver(accessTokens(auth, devIssuer))
                        .authenticationEntryPoint(entryPoint)
                        .accessDeniedHandler(denied))
                .addFilterAt(adminKeyFilter(admin.apiKey(), throttle), SecurityWebFiltersOrder.AUTHENTICATION)
                .exceptionHandling(e -> e.authenticationEntryPoint(entryPoint).accessDeniedHandler(denied))
                .build();
    }

    /**
     * No Spring Security observations at all (management.observations.enable.spring.security=false already turns them
     * into no-ops). That property only makes each observation a no-op at run time: the chains were still decorated,
     * one ObservationWebFilter per security filter per request, kept as long as the request, so for as long as an SSE
     * stream is open (issue 18 item 6). With these settings the chains are not decorated.
     */
    @Bean
    static SecurityObservationSettings securityObservationSettings() {
        return SecurityObservationSettings.noObservations();
    }

    /** The queue's SSE stream (SPEC 5): its credential is the queue token it is given as {@code ?token=}. */
    static final String STREAM_PATH = "/api/v1/queues/stream";

    /**
     * The SSE stream's own chain, in front of the main one: the route is public (its queue token is its handler's
     * business) and its requests live as long as the fan waits, so whatever the chain keeps per request is kept per
     * open stream (issue 18: about 37 KB of heap each). This chain keeps nothing it does not need: no bearer-token
     * authentication (an access token sent along is ignored here, not verified: the stream never acts for a user), no
     * security context, request cache or exception translation; the same security headers as every answer. The strict
     * firewall stands in front of every chain. Other methods on the path fall to the main chain (405).
     * <p>Of what {@link ServerHttpSecurity#build()} assembles, only the header writer is kept: the others it always
     * adds (the exchange and the security context in the Reactor context, the exchange that reads its principal from
     * it, the request cache's filter) do nothing here, with no security context and a no-op cache, but each was a
     * filter step of its own, kept for as long as the stream is open (about 2 KB per stream, issue 18 item 6).
     */
    @Bean
    @Order(Ordered.HIGHEST_PRECEDENCE)
    SecurityWebFilterChain streamSecurityWebFilterChain(ServerHttpSecurity http) {
        ServerWebExchangeMatcher stream = read(STREAM_PATH);
        // At start-up, on the main thread, over the built chain's in-memory list: block() never waits here.
        List<WebFilter> headers = stateless(http.securityMatcher(stream)).build().getWebFilters()
                .filter(HttpHeaderWriterWebFilter.class::isInstance).collectList().block();
        if (headers == null || headers.size() != 1) {
            throw new IllegalStateException("the stream's chain needs exactly its header writer, found " + headers);
        }
        return new MatcherSecurityWebFilterChain(stream, headers);
    }

    /**
     * What every chain of this API shares: no session, security context, request cache, CSRF, login forms or anonymous
     * principal (each request carries its own credential), and the same security headers on every answer.
     */
    private static ServerHttpSecurity stateless(ServerHttpSecurity http) {
        return http
                .csrf(ServerHttpSecurity.CsrfSpec::disable)
                .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
                .formLogin(ServerHttpSecurity.FormLoginSpec::disable)
                .logout(ServerHttpSecurity.LogoutSpec::disable)
                .anonymous(ServerHttpSecurity.AnonymousSpec::disable)
                .requestCache(cache -> cache.requestCache(NoOpServerRequestCache.getInstance()))
                .securityContextRepository(NoOpServerSecurityContextRepository.getInstance())
                .headers(headers -> headers
                        .writer(SecurityConfig::contentSecurityPolicy)
                        .referrerPolicy(referrer -> referrer.policy(ReferrerPolicyServerHttpHeadersWriter.ReferrerPolicy.NO_REFERRER)));
    }

    /**
     * SPEC 3's Auth column and SPEC 11's public routes. Paths are matched decoded and normalised (after the strict
     * firewall has refused {@code ;}, encoded {@code /}, {@code %25} and {@code ..}), exactly as the handlers are
     * mapped, so {@code /api/v1/%61dmin} is the admin route here too. HEAD follows GET ({@link #read}).
     */
    static void routes(ServerHttpSecurity.AuthorizeExchangeSpec routes) {
        routes
                // Operators first: no fan pattern below (such as /api/v1/{userId}/charge) may open an operator path.
                .matchers(read(PUBLIC_PROBES)).permitAll()
                .pathMatchers(OPERATOR_PATHS).hasAuthority(ADMIN)
                // Public: the catalog (with a date's seat layout), a sale's schedule and fairness record, the development issuer, the SSE stream (its
                // queue token is its handler's business).
                .matchers(read("/api/v1/concerts", "/api/v1/concerts/{concertId}", "/api/v1/concerts/{concertId}/dates",
                        "/api/v1/concerts/{concertId}/sale", "/api/v1/concerts/dates/{concertDateId}/layout", STREAM_PATH,
                        "/.well-known/jwks.json")).permitAll()
                // The refresh token in the body is the credential of refresh and sign-out (SPEC 11).
                .pathMatchers(HttpMethod.POST, "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout").permitAll()
                // Fans: whose ids and which queue pass each handler checks itself, on the values it acts on.
                .matchers(read("/api/v1/concerts/dates/{concertDateId}/seats", "/api/v1/concerts/dates/{concertDateId}/availability",
                        "/api/v1/users/{userId}/balance",
                        "/api/v1/queues/status", "/api/v1/reservations/{userId}")).hasAuthority(FAN)
                .pathMatchers(HttpMethod.PATCH, "/api/v1/users/{userId}/charge", "/api/v1/{userId}/charge").hasAuthority(FAN)
                .pathMatchers(HttpMethod.POST, "/api/v1/queues/token", "/api/v1/reservations", "/api/v1/payments/pay").hasAuthority(FAN)
                .pathMatchers(HttpMethod.DELETE, "/api/v1/queues/token", "/api/v1/reservations/{reservationId}").hasAuthority(FAN)
                // The OpenAPI document and UI, the web pages' static files (SPEC 11, 12).
                .matchers(read("/v3/api-docs", "/v3/api-docs/**", "/v3/api-docs.yaml", "/swagger-ui.html", "/swagger-ui/**",
                        "/webjars/**", "/", "/ops", "/assets/**", "/favicon.ico")).permitAll()
                .anyExchange().denyAll();
    }

    /** GET and HEAD on these paths: WebFlux serves HEAD with the GET handler, so it gets the GET rule. */
    static ServerWebExchangeMatcher read(String... patterns) {
        return new OrServerWebExchangeMatcher(ServerWebExchangeMatchers.pathMatchers(HttpMethod.GET, patterns),
                ServerWebExchangeMatchers.pathMatchers(HttpMethod.HEAD, patterns));
    }

    /**
     * A refused request that nothing would serve anyway is answered as Spring's routing answers it: 404, or 405
     * with {@code Allow} when the path exists for other methods. The handler mappings themselves are asked (no table
     * of ours to drift), and only for refused requests. The operator area stays opaque: there every refusal is
     * 401/403, so a non-operator learns nothing of what exists.
     */
    private static Mono<Void> refuse(ServerWebExchange exchange, ObjectProvider<DispatcherHandler> dispatcher, Mono<ApiException> refusal) {
        List<HandlerMapping> mappings = dispatcher.getObject().getHandlerMappings();
        Mono<Object> handler = Flux.fromIterable(mappings == null ? List.of() : mappings)
                .concatMap(mapping -> mapping.getHandler(exchange)
                        .onErrorResume(e -> e instanceof MethodNotAllowedException ? Mono.error(e) : Mono.just(mapping)))
                .next();
        return OPERATOR_AREA.matches(exchange)
                .flatMap(area -> area.isMatch() ? Mono.just(area) : handler)
                .flatMap(found -> refusal.flatMap(Mono::<Void>error))
                .switchIfEmpty(Mono.error(() -> new ApiException(ErrorCode.NOT_FOUND, "No such resource")));
    }

    /** 401: the problem's code says which credential is missing or wrong. */
    private static Mono<ApiException> unauthenticated(ServerWebExchange exchange, AuthenticationException e) {
        var headers = exchange.getResponse().getHeaders();
        if (e instanceof OAuth2AuthenticationException) {
            return Mono.fromSupplier(() -> {
                headers.set(HttpHeaders.WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
                return new ApiException(ErrorCode.UNAUTHENTICATED, "The access token is invalid or expired; sign in again");
            });
        }
        boolean bearerPresented = exchange.getRequest().getHeaders().containsHeader(HttpHeaders.AUTHORIZATION);
        boolean keyPresented = exchange.getRequest().getHeaders().containsHeader(ADMIN_KEY_HEADER);
        return OPERATOR_AREA.matches(exchange).map(match -> {
            headers.set(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
            if (match.isMatch() && !bearerPresented) {
                return new ApiException(ErrorCode.ADMIN_KEY_INVALID, keyPresented ? "Wrong " + ADMIN_KEY_HEADER + " header"
                        : "Operator routes need the " + ADMIN_KEY_HEADER + " header or an access token with the admin scope");
            }
            return new ApiException(ErrorCode.UNAUTHENTICATED, "Sign in: this request needs an access token (Authorization: Bearer ...)");
        });
    }

    /** One policy for the pages and the API (JSON is never rendered); Swagger UI needs its inline styles. */
    private static Mono<Void> contentSecurityPolicy(ServerWebExchange exchange) {
        var headers = exchange.getResponse().getHeaders();
        if (!headers.containsHeader("Content-Security-Policy")) {
            boolean docs = exchange.getRequest().getPath().pathWithinApplication().value().startsWith("/swagger-ui");
            headers.set("Content-Security-Policy", docs ? DOCS_CSP : CSP);
        }
        return Mono.empty();
    }

    /**
     * Access tokens by issuer: the development issuer's own key, and the external identity provider's (by OIDC
     * discovery of {@code issuer-uri}, or its {@code jwk-set-uri}). A token of any other issuer is refused.
     */
    static ReactiveAuthenticationManagerResolver<ServerWebExchange> accessTokens(AuthProperties auth, DevIssuer devIssuer) {
        ReactiveAuthenticationManager dev = devIssuer.enabled()
                ? manager(devIssuer.decoder(), validators(auth, devIssuer.issuer()), auth.adminScope()) : null;
        ReactiveAuthenticationManager external = auth.externalIssuer() ? manager(externalDecoder(auth),
                validators(auth, AuthProperties.hasText(auth.issuerUri()) ? auth.issuerUri() : null), auth.adminScope()) : null;
        if (dev == null && external == null) {
            log.warn("No identity provider: booking.auth.dev-issuer is disabled and neither booking.auth.issuer-uri nor "
                    + "booking.auth.jwk-set-uri is set; every user request will be refused");
        }
        if (external != null && !AuthProperties.hasText(auth.issuerUri())) {
            log.warn("booking.auth.jwk-set-uri without booking.auth.issuer-uri: tokens signed by that key set are accepted "
                    + "whatever their issuer (set booking.auth.issuer-uri to check it)");
        }
        JwtIssuerReactiveAuthenticationManagerResolver byIssuer = new JwtIssuerReactiveAuthenticationManagerResolver(issuer -> {
            if (dev != null && issuer.equals(devIssuer.issuer())) {
                return Mono.just(dev);
            }
            if (external != null && (!AuthProperties.hasText(auth.issuerUri()) || issuer.equals(auth.issuerUri()))) {
                return Mono.just(external);
            }
            return Mono.empty();
        });
        Cache<String, Authentication> verified = verifiedTokens(auth.clockSkew());
        return exchange -> byIssuer.resolve(exchange).map(manager -> authentication -> remembered(verified, manager, authentication));
    }

    /** At most this many verified access tokens are remembered (a few KB each). */
    static final int VERIFIED_TOKENS = 10_000;
    /**
     * A remembered token is checked again after this long even before it expires, so a key withdrawn from an external
     * provider's key set stops being honoured within about the time Nimbus caches a key set anyway (5 min).
     */
    static final Duration VERIFIED_TOKEN_MAX_AGE = Duration.ofMinutes(5);

    /**
     * Access tokens already verified, by their exact text, each until it would stop passing the timestamp validator
     * ({@code exp} plus the clock skew) and at most {@link #VERIFIED_TOKEN_MAX_AGE}: a fan's many requests with one
     * token pay the RS256 signature check, the claim parsing and the validators once (about 100 µs of CPU per request
     * before, issue 18). Nothing else changes: an access token is not revocable (SPEC 11 revokes refresh-token
     * families, and a refresh never reaches this path), a token is honoured exactly as long as the validator would
     * honour it, and a refused token is never remembered (each attempt is checked in full).
     */
    static Cache<String, Authentication> verifiedTokens(Duration clockSkew) {
        return Caffeine.newBuilder()
                .maximumSize(VERIFIED_TOKENS)
                .expireAfter(Expiry.<String, Authentication>creating((token, authentication) -> {
                    Instant expiresAt = authentication instanceof JwtAuthenticationToken jwt ? jwt.getToken().getExpiresAt() : null;
                    Duration left = expiresAt == null ? Duration.ZERO : Duration.between(Instant.now(), expiresAt.plus(clockSkew));
                    return left.isNegative() ? Duration.ZERO : left.compareTo(VERIFIED_TOKEN_MAX_AGE) > 0 ? VERIFIED_TOKEN_MAX_AGE : left;
                }))
                .build();
    }

    private static Mono<Authentication> remembered(Cache<String, Authentication> verified, ReactiveAuthenticationManager manager,
                                                   Authentication presented) {
        String token = presented instanceof BearerTokenAuthenticationToken bearer ? bearer.getToken() : null;
        Authentication known = token == null ? null : verified.getIfPresent(token);
        if (known != null) {
            return Mono.just(known);
        }
        return manager.authenticate(presented).doOnNext(authentication -> {
            if (token != null && authentication instanceof JwtAuthenticationToken) {
                verified.put(token, authentication);
            }
        });
    }

    private static ReactiveJwtDecoder externalDecoder(AuthProperties auth) {
        // Key sets are fetched without blocking and with a bound on every call.
        WebClient client = WebClient.builder().clientConnector(new ReactorClientHttpConnector(HttpClient.create()
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) JWKS_TIMEOUT.toMillis())
                .responseTimeout(JWKS_TIMEOUT))).build();
        var builder = AuthProperties.hasText(auth.jwkSetUri())
                ? NimbusReactiveJwtDecoder.withJwkSetUri(auth.jwkSetUri())
                : NimbusReactiveJwtDecoder.withIssuerLocation(auth.issuerUri());
        return builder.jwsAlgorithms(algorithms -> {
            algorithms.add(SignatureAlgorithm.RS256);
            algorithms.add(SignatureAlgorithm.ES256);
        }).webClient(client).build();
    }

    private static OAuth2TokenValidator<Jwt> validators(AuthProperties auth, String issuer) {
        JwtTimestampValidator time = new JwtTimestampValidator(auth.clockSkew());
        time.setAllowEmptyExpiryClaim(false);
        List<OAuth2TokenValidator<Jwt>> all = new ArrayList<>(List.of(time, new JwtAudienceValidator(auth.audience())));
        if (issuer != null) {
            all.add(new JwtIssuerValidator(issuer));
        }
        return new DelegatingOAuth2TokenValidator<>(all);
    }

    private static ReactiveAuthenticationManager manager(ReactiveJwtDecoder decoder, OAuth2TokenValidator<Jwt> validator, String adminScope) {
        if (decoder instanceof NimbusReactiveJwtDecoder nimbus) {
            nimbus.setJwtValidator(validator);
        }
        JwtAuthenticationConverter converter = new JwtAuthenticationConverter();
        converter.setJwtGrantedAuthoritiesConverter(authorities(adminScope));
        JwtReactiveAuthenticationManager manager = new JwtReactiveAuthenticationManager(decoder);
        manager.setJwtAuthenticationConverter(new ReactiveJwtAuthenticationConverterAdapter(converter));
        return manager;
    }

    /**
     * An access token's authorities: its scopes; {@link #FAN} when its subject is a user id (read by the same strict
     * parse as every id, {@link Caller#userIdOf}); {@link #ADMIN} with the admin scope.
     */
    static Converter<Jwt, Collection<GrantedAuthority>> authorities(String adminScope) {
        JwtGrantedAuthoritiesConverter scopes = new JwtGrantedAuthoritiesConverter();
        return jwt -> {
            Collection<GrantedAuthority> authorities = new ArrayList<>(scopes.convert(jwt));
            if (Ids.parse(jwt.getSubject()).isPresent()) {
                authorities.add(new SimpleGrantedAuthority(FAN));
            }
            if (authorities.stream().anyMatch(a -> a.getAuthority().equals("SCOPE_" + adminScope))) {
                authorities.add(new SimpleGrantedAuthority(ADMIN));
            }
            return authorities;
        };
    }

    /**
     * {@code X-Admin-Key} on operator paths, compared in constant time. A right key makes the request an operator's;
     * a wrong one is no credential, so the route's rule refuses it (401 ADMIN_KEY_INVALID on operator routes; the
     * public probes under /actuator do not look at keys at all). Wrong keys are counted per client address (SPEC 11): over the
     * limit, every key from there is 429 until the window ends, the right one too. When Redis cannot count, a wrong
     * key is 503 (never an unthrottled 401) and a right one still passes: operators keep their access through a
     * Redis outage, and the key's own strength (32+ bytes in prod) is the guard meanwhile.
     */
    private static AuthenticationWebFilter adminKeyFilter(String apiKey, Throttle throttle) {
        byte[] expected = apiKey.getBytes(StandardCharsets.UTF_8);
        ReactiveAuthenticationManager manager = presented -> {
            String address = String.valueOf(presented.getDetails());
            if (!MessageDigest.isEqual(expected, String.valueOf(presented.getCredentials()).getBytes(StandardCharsets.UTF_8))) {
                return throttle.wrongAdminKey(address).then(Mono.error(new BadCredentialsException("wrong admin key")));
            }
            return throttle.adminKeyAllowed(address)
                    .onErrorResume(e -> !(e instanceof ApiException), e -> {
                        log.warn("admin-key throttle unreadable, letting the right key pass: {}", e.toString());
                        return Mono.empty();
                    })
                    .then(Mono.just(UsernamePasswordAuthenticationToken.authenticated("operator", null, AuthorityUtils.createAuthorityList(ADMIN))));
        };
        AuthenticationWebFilter filter = new AuthenticationWebFilter(manager);
        filter.setRequiresAuthenticationMatcher(new AndServerWebExchangeMatcher(OPERATOR_AREA, new NegatedServerWebExchangeMatcher(read(PUBLIC_PROBES))));
        filter.setServerAuthenticationConverter(exchange -> Mono.justOrEmpty(exchange.getRequest().getHeaders().getFirst(ADMIN_KEY_HEADER))
                .map(key -> {
                    var token = UsernamePasswordAuthenticationToken.unauthenticated("operator", key);
                    token.setDetails(Throttle.clientAddress(exchange));
                    return token;
                }));
        filter.setAuthenticationFailureHandler((webFilterExchange, e) -> webFilterExchange.getChain().filter(webFilterExchange.getExchange()));
        filter.setSecurityContextRepository(NoOpServerSecurityContextRepository.getInstance());
        return filter;
    }

    /** Spring Security's strict firewall: {@code ;}, encoded {@code /} and {@code %}, {@code ..}, odd methods and headers. */
    @Bean
    ServerWebExchangeFirewall firewall() {
        return new StrictServerWebExchangeFirewall();
    }

    @Bean
    ServerExchangeRejectedHandler exchangeRejected() {
        return (exchange, e) -> Mono.error(new ApiException(ErrorCode.REQUEST_REJECTED,
                "The request was rejected: the path or a header contains characters this service does not accept"));
    }
}
