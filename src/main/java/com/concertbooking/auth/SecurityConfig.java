package com.concertbooking.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.BookingProperties;
import com.concertbooking.support.ErrorCode;
import io.netty.channel.ChannelOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpHeaders;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.ReactiveAuthenticationManager;
import org.springframework.security.authentication.ReactiveAuthenticationManagerResolver;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.authorization.AuthorizationDecision;
import org.springframework.security.authorization.AuthorizationResult;
import org.springframework.security.config.annotation.web.reactive.EnableWebFluxSecurity;
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
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationConverter;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.security.oauth2.server.resource.authentication.JwtGrantedAuthoritiesConverter;
import org.springframework.security.oauth2.server.resource.authentication.JwtIssuerReactiveAuthenticationManagerResolver;
import org.springframework.security.oauth2.server.resource.authentication.JwtReactiveAuthenticationManager;
import org.springframework.security.oauth2.server.resource.authentication.ReactiveJwtAuthenticationConverterAdapter;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.ServerAuthenticationEntryPoint;
import org.springframework.security.web.server.authentication.AuthenticationWebFilter;
import org.springframework.security.web.server.authorization.AuthorizationContext;
import org.springframework.security.web.server.authorization.ServerAccessDeniedHandler;
import org.springframework.security.web.server.context.NoOpServerSecurityContextRepository;
import org.springframework.security.web.server.firewall.ServerExchangeRejectedHandler;
import org.springframework.security.web.server.firewall.ServerWebExchangeFirewall;
import org.springframework.security.web.server.firewall.StrictServerWebExchangeFirewall;
import org.springframework.security.web.server.savedrequest.NoOpServerRequestCache;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * The service as an OAuth2 resource server (SPEC 11). Who may call what is decided in one place,
 * {@link AccessRules}; this class wires it into Spring Security: access tokens validated by Spring's Nimbus
 * decoders (signature, issuer, audience, expiry and not-before with 60 s skew), operators by {@code X-Admin-Key}
 * or an access token with the admin scope, the strict firewall in front, and every refusal rendered as
 * problem+json by the application's error handler. Stateless: no session, no CSRF token (no cookies are used).
 */
@Configuration(proxyBeanMethods = false)
@EnableWebFluxSecurity
public class SecurityConfig {

    private static final Logger log = LoggerFactory.getLogger(SecurityConfig.class);
    public static final String ADMIN_KEY_HEADER = "X-Admin-Key";
    static final String ADMIN_ROLE = "ROLE_ADMIN";
    private static final Duration JWKS_TIMEOUT = Duration.ofSeconds(3);

    @Bean
    SecurityWebFilterChain securityWebFilterChain(ServerHttpSecurity http, AuthProperties auth, BookingProperties booking,
                                                  DevIssuer devIssuer) {
        ServerAuthenticationEntryPoint entryPoint = SecurityConfig::unauthenticated;
        ServerAccessDeniedHandler denied = (exchange, e) -> AccessRules.of(exchange).isEmpty() ? noRoute(exchange)
                : Mono.error(new ApiException(ErrorCode.FORBIDDEN, "You may not call this route with these credentials"));
        return http
                .csrf(ServerHttpSecurity.CsrfSpec::disable)
                .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
                .formLogin(ServerHttpSecurity.FormLoginSpec::disable)
                .logout(ServerHttpSecurity.LogoutSpec::disable)
                .anonymous(ServerHttpSecurity.AnonymousSpec::disable)
                .requestCache(cache -> cache.requestCache(NoOpServerRequestCache.getInstance()))
                .securityContextRepository(NoOpServerSecurityContextRepository.getInstance())
                .authorizeExchange(exchanges -> exchanges.anyExchange().access(SecurityConfig::decide))
                .oauth2ResourceServer(rs -> rs
                        .authenticationManagerResolver(accessTokens(auth, devIssuer))
                        .authenticationEntryPoint(entryPoint)
                        .accessDeniedHandler(denied))
                .addFilterAt(adminKeyFilter(booking.admin().apiKey()), SecurityWebFiltersOrder.AUTHENTICATION)
                .exceptionHandling(e -> e.authenticationEntryPoint(entryPoint).accessDeniedHandler(denied))
                .build();
    }

    /** The one decision per request: the route's rule (SPEC 3 column Auth), closed when there is none. */
    static Mono<AuthorizationResult> decide(Mono<Authentication> authentication, AuthorizationContext context) {
        var match = AccessRules.of(context.getExchange());
        if (match.isEmpty()) {
            return Mono.just(DENY);
        }
        return switch (match.get().rule().access()) {
            case PUBLIC -> Mono.just(ALLOW);
            case USER -> authentication.map(a -> Caller.userIdOf(a) != null ? ALLOW : DENY).defaultIfEmpty(DENY);
            case ADMIN -> authentication.map(a -> a.isAuthenticated()
                            && a.getAuthorities().stream().anyMatch(g -> ADMIN_ROLE.equals(g.getAuthority())) ? ALLOW : DENY)
                    .defaultIfEmpty(DENY);
        };
    }

    private static final AuthorizationResult ALLOW = new AuthorizationDecision(true), DENY = new AuthorizationDecision(false);

    /**
     * A request no rule names never reaches a handler. Nothing would serve it anyway (every handler has a rule, a test
     * makes sure), so it is answered like one: 405 when the path exists for other methods, else 404.
     */
    private static Mono<Void> noRoute(ServerWebExchange exchange) {
        var path = exchange.getRequest().getPath().pathWithinApplication().value();
        var allowed = AccessRules.methodsFor(path);
        if (allowed.isEmpty()) {
            return Mono.error(new ApiException(ErrorCode.NOT_FOUND, "No such resource"));
        }
        exchange.getResponse().getHeaders().setAllow(allowed);
        return Mono.error(new ApiException(ErrorCode.METHOD_NOT_ALLOWED,
                "Method " + exchange.getRequest().getMethod() + " is not allowed here"));
    }

    /** 401: the problem's code says which credential is missing or wrong. */
    private static Mono<Void> unauthenticated(ServerWebExchange exchange, AuthenticationException e) {
        if (AccessRules.of(exchange).isEmpty()) {
            return noRoute(exchange);
        }
        boolean adminRoute = AccessRules.of(exchange).map(m -> m.rule().access() == AccessRules.Access.ADMIN).orElse(false);
        boolean bearerPresented = exchange.getRequest().getHeaders().containsHeader(HttpHeaders.AUTHORIZATION);
        if (e instanceof OAuth2AuthenticationException) {
            exchange.getResponse().getHeaders().set(HttpHeaders.WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
            return Mono.error(new ApiException(ErrorCode.UNAUTHENTICATED, "The access token is invalid or expired; sign in again"));
        }
        exchange.getResponse().getHeaders().set(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
        if (adminRoute && !bearerPresented) {
            return Mono.error(new ApiException(ErrorCode.ADMIN_KEY_INVALID,
                    "Operator routes need the " + ADMIN_KEY_HEADER + " header or an access token with the admin scope"));
        }
        return Mono.error(new ApiException(ErrorCode.UNAUTHENTICATED, "Sign in: this request needs an access token (Authorization: Bearer ...)"));
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
        return new JwtIssuerReactiveAuthenticationManagerResolver(issuer -> {
            if (dev != null && issuer.equals(devIssuer.issuer())) {
                return Mono.just(dev);
            }
            if (external != null && (!AuthProperties.hasText(auth.issuerUri()) || issuer.equals(auth.issuerUri()))) {
                return Mono.just(external);
            }
            return Mono.empty();
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
        JwtGrantedAuthoritiesConverter scopes = new JwtGrantedAuthoritiesConverter();
        JwtAuthenticationConverter converter = new JwtAuthenticationConverter();
        converter.setJwtGrantedAuthoritiesConverter(jwt -> {
            Collection<GrantedAuthority> authorities = new ArrayList<>(scopes.convert(jwt));
            if (authorities.stream().anyMatch(a -> a.getAuthority().equals("SCOPE_" + adminScope))) {
                authorities.add(new SimpleGrantedAuthority(ADMIN_ROLE));
            }
            return authorities;
        });
        JwtReactiveAuthenticationManager manager = new JwtReactiveAuthenticationManager(decoder);
        manager.setJwtAuthenticationConverter(new ReactiveJwtAuthenticationConverterAdapter(converter));
        return manager;
    }

    /** {@code X-Admin-Key} on operator routes, compared in constant time; a wrong key is 401 at once. */
    private static AuthenticationWebFilter adminKeyFilter(String apiKey) {
        if (apiKey == null || apiKey.isBlank()) {
            throw new IllegalStateException("booking.admin.api-key must be set (not blank)");
        }
        byte[] expected = apiKey.getBytes(StandardCharsets.UTF_8);
        ReactiveAuthenticationManager manager = presented -> {
            byte[] given = String.valueOf(presented.getCredentials()).getBytes(StandardCharsets.UTF_8);
            return MessageDigest.isEqual(expected, given)
                    ? Mono.just(UsernamePasswordAuthenticationToken.authenticated("operator", null, AuthorityUtils.createAuthorityList(ADMIN_ROLE)))
                    : Mono.error(new BadCredentialsException("wrong admin key"));
        };
        AuthenticationWebFilter filter = new AuthenticationWebFilter(manager);
        filter.setRequiresAuthenticationMatcher(exchange -> {
            boolean applies = exchange.getRequest().getHeaders().containsHeader(ADMIN_KEY_HEADER)
                    && AccessRules.of(exchange).map(m -> m.rule().access() == AccessRules.Access.ADMIN).orElse(false);
            return applies ? org.springframework.security.web.server.util.matcher.ServerWebExchangeMatcher.MatchResult.match()
                    : org.springframework.security.web.server.util.matcher.ServerWebExchangeMatcher.MatchResult.notMatch();
        });
        filter.setServerAuthenticationConverter(exchange -> Mono.justOrEmpty(exchange.getRequest().getHeaders().getFirst(ADMIN_KEY_HEADER))
                .map(key -> UsernamePasswordAuthenticationToken.unauthenticated("operator", key)));
        filter.setAuthenticationFailureHandler((webFilterExchange, e) -> Mono.error(new ApiException(ErrorCode.ADMIN_KEY_INVALID,
                "Wrong " + ADMIN_KEY_HEADER + " header")));
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
