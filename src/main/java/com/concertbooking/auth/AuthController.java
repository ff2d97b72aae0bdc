package com.concertbooking.auth;

import java.util.Map;

import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import org.springframework.http.CacheControl;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * The development identity provider's routes (SPEC 11): password login, refresh and sign-out, its public keys, and
 * minting a user's token for operators and load tests. All answer 404 when the development issuer is disabled (prod).
 */
@RestController
class AuthController {

    private final DevIssuer issuer;
    private final Passwords passwords;
    private final Throttle throttle;
    private final RefreshTokens refreshTokens;
    private final DatabaseClient db;

    public AuthController(DevIssuer issuer, Passwords passwords, Throttle throttle, RefreshTokens refreshTokens, DatabaseClient db) {
        this.issuer = issuer;
        this.refreshTokens = refreshTokens;
        this.passwords = passwords;
        this.throttle = throttle;
        this.db = db;
    }

    /** A name or password outside SPEC 11's forms is a 400: nothing is looked up or counted for it. */
    public record Login(@Username String username, @NotNull @Password String password) {}

    private record Account(long userId, String username, String passwordHash) {}

    /** A refresh token as login or refresh gave it: exactly that form, anything else is a 400 and looks nothing up. */
    public record Refresh(@NotNull @jakarta.validation.constraints.Pattern(regexp = RefreshTokens.FORM,
            message = "must be a refresh token as login or refresh returned it") String refreshToken) {}

    /**
     * 200 with an access token, or the same 401 for an unknown user and a wrong password: both run one hash check,
     * so they also take about the same time. Throttled per client address, then per account (however the name is
     * written), each attempt counted before its password is checked.
     */
    @PostMapping(path = "/api/v1/auth/login", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<DevIssuer.AccessToken>> login(@Valid @RequestBody Login login, ServerWebExchange exchange) {
        requireEnabled();
        return throttle.signInFrom(Throttle.clientAddress(exchange))
                .then(account(login.username()).map(java.util.Optional::of).defaultIfEmpty(java.util.Optional.empty()))
                .flatMap(account -> {
                    String counter = Throttle.account(account.map(Account::userId).orElse(null), login.username());
                    return throttle.signInTo(counter)
                            .then(passwords.matches(login.password(), account.map(Account::passwordHash).orElse(null)))
                            .flatMap(ok -> ok
                                    ? throttle.signedIn(counter).then(signIn(account.get().userId(), account.get().username(),
                                            refreshTokens.issue(account.get().userId())))
                                    : Mono.error(new ApiException(ErrorCode.INVALID_CREDENTIALS, "Wrong username or password")));
                })
                .map(token -> ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(token));
    }

    /**
     * A new access token and a new refresh token for a refresh token (SPEC 11): rotated on every use; a token used
     * twice revokes its whole chain (401 for the reuse and for every later use of that chain).
     */
    @PostMapping(path = "/api/v1/auth/refresh", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<DevIssuer.AccessToken>> refresh(@Valid @RequestBody Refresh refresh) {
        requireEnabled();
        return refreshTokens.rotate(refresh.refreshToken())
                .flatMap(rotated -> signIn(rotated.userId(), rotated.username(), Mono.just(rotated.refreshToken())))
                .map(token -> ResponseEntity.ok().cacheControl(CacheControl.noStore()).body(token));
    }

    /**
     * Sign-out: the refresh token's chain is revoked, so a copy left behind (a shared computer, a stolen token) cannot
     * renew the session. 204 whatever the token (idempotent; says nothing about which tokens exist). Access tokens
     * already issued stay valid until they expire (at most an hour): they are not looked up per request.
     */
    @PostMapping(path = "/api/v1/auth/logout", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<Void>> logout(@Valid @RequestBody Refresh refresh) {
        requireEnabled();
        return refreshTokens.revoke(refresh.refreshToken()).thenReturn(ResponseEntity.noContent().build());
    }

    private Mono<DevIssuer.AccessToken> signIn(long userId, String username, Mono<String> refreshToken) {
        return refreshToken.flatMap(refresh -> issuer.mint(userId, username).map(token -> token.withRefresh(refresh, refreshTokens.ttl())));
    }

    /** The issuer's public keys, for other services that verify its tokens. */
    @GetMapping(path = "/.well-known/jwks.json", produces = MediaType.APPLICATION_JSON_VALUE)
    public ResponseEntity<Map<String, Object>> jwks() {
        requireEnabled();
        return ResponseEntity.ok().cacheControl(CacheControl.maxAge(java.time.Duration.ofMinutes(5))).body(issuer.publicJwks());
    }

    /** An access token for a user, minted by an operator (support, load tests); no password involved. */
    @PostMapping("/api/v1/admin/users/{userId}/access-token")
    public Mono<DevIssuer.AccessToken> mint(@PathVariable @Positive long userId) {
        requireEnabled();
        return db.sql("SELECT username FROM users WHERE id = :id").bind("id", userId)
                .map(r -> r.get("username", String.class)).one()
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.USER_NOT_FOUND, "User %d does not exist", userId)))
                .flatMap(username -> issuer.mint(userId, username));
    }

    /** The account of this name, without regard to case and otherwise exactly (SPEC 11; the unique key is the lower-cased name). */
    private Mono<Account> account(String username) {
        return db.sql("SELECT id, username, password_hash FROM users WHERE username_lower = :name")
                .bind("name", username.toLowerCase(java.util.Locale.ROOT))
                .map(r -> new Account(r.get("id", Long.class), r.get("username", String.class), r.get("password_hash", String.class)))
                .one();
    }

    private void requireEnabled() {
        if (!issuer.enabled()) {
            throw new ApiException(ErrorCode.NOT_FOUND, "The development identity provider is disabled");
        }
    }
}
