package com.concertbooking.web;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.ClassPathResource;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

import static org.springframework.web.reactive.function.server.RequestPredicates.method;
import static org.springframework.web.reactive.function.server.RequestPredicates.path;
import static org.springframework.web.reactive.function.server.RouterFunctions.route;

/**
 * SPEC section 12: the fan page at {@code /} and the operator page at {@code /ops}. Their scripts and styles are
 * ordinary static files under {@code static/assets/}. The two documents are read once at start (no file I/O on an
 * event loop) and sent with a Content-Security-Policy that allows only this origin's scripts, styles and calls.
 */
@Configuration(proxyBeanMethods = false)
public class WebPages {

    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    @Bean
    RouterFunction<ServerResponse> webPageRoutes() {
        byte[] fan = read("static/index.html");
        byte[] ops = read("static/ops.html");
        // HEAD gets the same answer as GET, without the body (WebFlux drops it).
        return route(path("/").and(method(HttpMethod.GET).or(method(HttpMethod.HEAD))), request -> page(fan))
                .andRoute(path("/ops").and(method(HttpMethod.GET).or(method(HttpMethod.HEAD))), request -> page(ops));
    }

    private static Mono<ServerResponse> page(byte[] html) {
        return ServerResponse.ok()
                .contentType(new MediaType(MediaType.TEXT_HTML, java.nio.charset.StandardCharsets.UTF_8))
                .cacheControl(CacheControl.noCache())
                .header("Content-Security-Policy", CSP)
                .header("X-Content-Type-Options", "nosniff")
                .header("Referrer-Policy", "no-referrer")
                .bodyValue(html);
    }

    private static byte[] read(String path) {
        try (var in = new ClassPathResource(path).getInputStream()) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("missing web page " + path, e);
        }
    }
}
