package com.concertbooking.booking;

import com.concertbooking.booking.PaymentService.PayCommand;
import com.concertbooking.booking.PaymentService.PaymentResponse;
import com.concertbooking.auth.Caller;
import com.concertbooking.auth.PaymentPass;
import com.concertbooking.support.ApiException;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import jakarta.validation.constraints.Size;
import java.util.HashSet;
import java.util.List;
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

    /** The most reservations one request may name, before anything is read (a concert's own ticket limit is at most 100). */
    static final int MAX_RESERVATIONS = 100;

    /** {@code reservationId} for one reservation, or {@code reservationIds} for several (exactly one of the two). */
    public record PayRequest(@Positive Long reservationId,
                             @Size(min = 1, max = MAX_RESERVATIONS) List<@NotNull @Positive Long> reservationIds,
                             @NotNull @Positive Long userId) {

        /** The reservations asked for, in order; 400 when both or neither field is given, or an id repeats. */
        List<Long> ids() {
            if ((reservationId == null) == (reservationIds == null)) {
                throw ApiException.validation("Give either reservationId or reservationIds (1 to " + MAX_RESERVATIONS + " ids)");
            }
            if (reservationId != null) {
                return List.of(reservationId);
            }
            if (new HashSet<>(reservationIds).size() != reservationIds.size()) {
                throw ApiException.validation("reservationIds must not repeat an id");
            }
            return reservationIds;
        }
    }

    /**
     * Pays the caller's own holds (one, or several of one concert date, all or none) with an ACTIVE pass of their
     * concert, or replays a stored payment (SPEC 3, 4.4).
     */
    @PostMapping(path = "/pay", consumes = MediaType.APPLICATION_JSON_VALUE)
    public Mono<ResponseEntity<PaymentResponse>> pay(Caller caller, PaymentPass pass,
                                                     @RequestHeader(name = IDEMPOTENCY_KEY, required = false) String key,
                                                     @Valid @RequestBody Mono<PayRequest> body) {
        String idempotencyKey = validKey(key);
        return body.flatMap(request -> {
            caller.requireSelf(request.userId());
            return payments.pay(pass, new PayCommand(request.ids(), request.userId(), idempotencyKey));
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
