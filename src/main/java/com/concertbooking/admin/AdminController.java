package com.concertbooking.admin;

import com.concertbooking.wallet.WalletStore;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** Operator API behind {@code X-Admin-Key} (see AdminKeyFilter). */
@RestController
@RequestMapping(path = "/api/v1/admin", consumes = MediaType.APPLICATION_JSON_VALUE)
public class AdminController {

    private final ConcertAdmin concerts;
    private final WalletStore wallets;

    public AdminController(ConcertAdmin concerts, WalletStore wallets) {
        this.concerts = concerts;
        this.wallets = wallets;
    }

    public record CreateUser(@NotBlank @Size(max = 100) String name, @Min(0) @Max(WalletStore.MAX_BALANCE) Long balance) {

        long initialBalance() {
            return balance == null ? 0 : balance;
        }
    }

    public record CreatedUser(long userId, long balance) {}

    @PostMapping("/concerts")
    @ResponseStatus(HttpStatus.CREATED)
    public Mono<ConcertAdmin.CreatedConcert> createConcert(@Valid @RequestBody ConcertAdmin.CreateConcert request) {
        return concerts.create(request);
    }

    @PostMapping("/users")
    @ResponseStatus(HttpStatus.CREATED)
    public Mono<CreatedUser> createUser(@Valid @RequestBody CreateUser request) {
        return wallets.createUser(request.name().strip(), request.initialBalance())
                .map(id -> new CreatedUser(id, request.initialBalance()));
    }
}
