package com.concertbooking.booking;

import com.concertbooking.booking.PaymentService.PayCommand;
import com.concertbooking.booking.PaymentService.PaymentResponse;
import com.concertbooking.auth.Caller;
import com.concertbooking.auth.PaymentPass;
import com.concertbooking.support.ApiException;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

@RestController
@RequestMapping("/api/v1/payments")
class PaymentController {

    public static final String IDEMPOTENCY_KEY = PaymentPass.IDEMPOTENCY_KEY;
    /** Marks a response that was replayed from the idempotency store rather than executed again. */
    public static final String REPLAYED = "Idempotent-Replayed";
    private static final int MAX_KEY_LENGTH = 100; // idempotency_key.idem_key

    private final PaymentService payments;

    public PaymentController(PaymentService payments) {
        this.payments = payments;
    }

    public record PayRequest(@NotNull @Positive Long reservationId, @NotNull @Positive Long userId) {}

    /** Pays the caller's own hold with an ACTIVE pass of its concert, or replays a stored payment (SPEC 4.4). */
    @PostMapping(path = "/pay", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<PaymentResponse>> pay(Caller caller, PaymentPass pass,
                                                     @RequestHeader(name = IDEMPOTENCY_KEY, required = false) String key,
                                                     @Valid @RequestBody Mono<PayRequest> body) {
        String idempotencyKey = validKey(key);
        return body.flatMap(request -> {
            caller.requireSelf(request.userId());
            return payments.pay(pass, new PayCommand(request.reservationId(), request.userId(), idempotencyKey));
        }).map(outcome -> outcome.replayed()
                ? ResponseEntity.ok().header(REPLAYED, "true").body(outcome.response())
                : ResponseEntity.ok(outcome.response()));
    }

    static String validKey(String key) {
        if (key == null) {
            return null;
        }
        if (key.isEmpty() || key.length() > MAX_KEY_LENGTH || !key.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw ApiException.validation(IDEMPOTENCY_KEY + " must be 1-" + MAX_KEY_LENGTH + " visible ASCII characters");
        }
        return key;
    }
}
