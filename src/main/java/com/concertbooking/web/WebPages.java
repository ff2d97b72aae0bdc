package com.concertbooking.web;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.ClassPathResource;
import org.springframework.http.CacheControl;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

import static org.springframework.web.reactive.function.server.RequestPredicates.GET;
import static org.springframework.web.reactive.function.server.RequestPredicates.HEAD;
import static org.springframework.web.reactive.function.server.RouterFunctions.route;

/**
 * SPEC section 12: the fan page at {@code /} and the operator page at {@code /ops}, static files like their scripts
 * and styles under {@code static/assets/}. Their security headers (Content-Security-Policy: this origin's scripts,
 * styles and calls only; nosniff; no referrer; no framing) are Spring Security's, as for every response. The two
 * documents are read once at start, so serving them does no file I/O on an event loop.
 */
@Configuration(proxyBeanMethods = false)
class WebPages {

    @Bean
    RouterFunction<ServerResponse> webPageRoutes() {
        byte[] fan = read("static/index.html");
        byte[] ops = read("static/ops.html");
        return route(GET("/").or(HEAD("/")), request -> page(fan))
                .andRoute(GET("/ops").or(HEAD("/ops")), request -> page(ops));
    }

    private static Mono<ServerResponse> page(byte[] html) {
        // Revalidated on every visit, so a new release shows at once.
        return ServerResponse.ok().contentType(new MediaType(MediaType.TEXT_HTML, StandardCharsets.UTF_8))
                .cacheControl(CacheControl.noCache()).bodyValue(html);
    }

    private static byte[] read(String path) {
        try (var in = new ClassPathResource(path).getInputStream()) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("missing web page " + path, e);
        }
    }
}
