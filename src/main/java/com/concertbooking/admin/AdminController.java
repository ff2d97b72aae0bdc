package com.concertbooking.admin;

import com.concertbooking.auth.Password;
import com.concertbooking.auth.Passwords;
import com.concertbooking.auth.Username;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.wallet.WalletStore;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** Operator API (access: auth.SecurityConfig, admin key or admin-scoped token). */
@RestController
@RequestMapping(path = "/api/v1/admin", consumes = MediaType.APPLICATION_JSON_VALUE)
class AdminController {

    private final ConcertAdmin concerts;
    private final WalletStore wallets;
    private final Passwords passwords;

    public AdminController(ConcertAdmin concerts, WalletStore wallets, Passwords passwords) {
        this.concerts = concerts;
        this.wallets = wallets;
        this.passwords = passwords;
    }

    /**
     * A user. Without a password the account cannot sign in by password (its tokens come from an external identity
     * provider or from {@code POST /admin/users/{id}/access-token}).
     */
    public record CreateUser(@Username String username,
                             @Password String password,
                             @Min(0) @Max(WalletStore.MAX_BALANCE) Long balance) {

        long initialBalance() {
            return balance == null ? 0 : balance;
        }
    }

    public record CreatedUser(long userId, String username, long balance) {}

    @PostMapping("/concerts")
    @ResponseStatus(HttpStatus.CREATED)
    public Mono<ConcertAdmin.CreatedConcert> createConcert(@Valid @RequestBody ConcertAdmin.CreateConcert request) {
        return concerts.create(request);
    }

    @PostMapping("/users")
    @ResponseStatus(HttpStatus.CREATED)
    public Mono<CreatedUser> createUser(@Valid @RequestBody CreateUser request) {
        Mono<String> hash = request.password() == null ? Mono.empty() : passwords.hash(request.password());
        return hash.map(java.util.Optional::of).defaultIfEmpty(java.util.Optional.empty())
                .flatMap(h -> wallets.createUser(request.username(), h.orElse(null), request.initialBalance()))
                .onErrorMap(DuplicateKeyException.class, e -> ApiException.of(ErrorCode.USERNAME_TAKEN,
                        "The username '%s' is taken", request.username()))
                .map(id -> new CreatedUser(id, request.username(), request.initialBalance()));
    }
}
