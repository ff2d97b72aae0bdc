package com.concertbooking.wallet;

import com.concertbooking.auth.Caller;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import org.springframework.http.MediaType;
import org.springframework.transaction.reactive.TransactionalOperator;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PatchMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

@RestController
@RequestMapping("/api/v1")
class WalletController {

    public static final long MAX_CHARGE = 10_000_000L;

    private final WalletStore store;
    private final TransactionalOperator tx;

    public WalletController(WalletStore store, TransactionalOperator tx) {
        this.store = store;
        this.tx = tx;
    }

    public record Balance(long userId, long balance) {}

    public record ChargeRequest(@NotNull @Min(1) @Max(MAX_CHARGE) Long amount) {}

    @GetMapping("/users/{userId}/balance")
    public Mono<Balance> balance(@PathVariable @Positive long userId, Caller caller) {
        caller.requireSelf(userId);
        return store.balance(userId)
                .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.USER_NOT_FOUND, "User %d does not exist", userId)))
                .map(b -> new Balance(userId, b));
    }

    @PatchMapping(path = {"/users/{userId}/charge", "/{userId}/charge"}, consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<Balance> charge(@PathVariable @Positive long userId, Caller caller, @Valid @RequestBody Mono<ChargeRequest> body) {
        caller.requireSelf(userId); // before the body is read: another fan's wallet is refused whatever the body says
        return body.flatMap(request -> charge(userId, request.amount()));
    }

    private Mono<Balance> charge(long userId, long amount) {
        // Update and read back in one short transaction: the row lock makes the returned balance our own.
        return store.credit(userId, amount)
                .flatMap(changed -> changed == 1 ? store.balance(userId) : store.balance(userId)
                        .switchIfEmpty(Mono.error(() -> ApiException.of(ErrorCode.USER_NOT_FOUND, "User %d does not exist", userId)))
                        .flatMap(current -> Mono.error(ApiException.of(ErrorCode.BALANCE_LIMIT_EXCEEDED,
                                "Charging %d would take the balance %d above %d", amount, current, WalletStore.MAX_BALANCE))))
                .as(tx::transactional)
                .map(b -> new Balance(userId, b));
    }
}
