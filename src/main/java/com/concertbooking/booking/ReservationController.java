package com.concertbooking.booking;

import java.util.List;

import com.concertbooking.booking.ReservationService.HoldCommand;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.support.ApiException;
import com.concertbooking.support.ErrorCode;
import com.concertbooking.support.QueuePass;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

@RestController
@RequestMapping("/api/v1/reservations")
public class ReservationController {

    private final ReservationService reservations;

    public ReservationController(ReservationService reservations) {
        this.reservations = reservations;
    }

    public record HoldRequest(@NotNull @Positive Long userId,
                              @NotNull @Positive Long concertDateId,
                              @NotNull @Positive @Max(1_000_000) Integer seatNumber,
                              @Positive Long concertId) {}

    @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
    @ResponseStatus(HttpStatus.CREATED)
    public Mono<Reservation> hold(@Valid @RequestBody HoldRequest request, ServerWebExchange exchange) {
        QueuePass pass = activePass(exchange);
        return reservations.hold(pass, new HoldCommand(request.userId(), request.concertDateId(), request.seatNumber(), request.concertId()));
    }

    @GetMapping("/{userId}")
    public Mono<List<Reservation>> mine(@PathVariable @Positive long userId, ServerWebExchange exchange) {
        // No token needed; a presented one (already verified by the token guard) must be this user's.
        QueuePass.of(exchange).ifPresent(pass -> pass.requireUser(userId));
        return reservations.list(userId);
    }

    @DeleteMapping("/{reservationId}")
    public Mono<Reservation> cancel(@PathVariable @Positive long reservationId, @RequestParam @Positive long userId,
                                    ServerWebExchange exchange) {
        QueuePass.of(exchange).ifPresent(pass -> pass.requireUser(userId));
        return reservations.cancel(reservationId, userId);
    }

    /** The token guard admits only ACTIVE passes here; this is the belt to its braces. */
    static QueuePass activePass(ServerWebExchange exchange) {
        QueuePass pass = QueuePass.of(exchange)
                .orElseThrow(() -> new ApiException(ErrorCode.TOKEN_MISSING, "An ACTIVE queue token is required"));
        return switch (pass.status()) {
            case ACTIVE -> pass;
            case WAITING -> throw new ApiException(ErrorCode.TOKEN_NOT_ACTIVE, "The queue token is still waiting");
            case ENDED -> throw new ApiException(ErrorCode.TOKEN_EXPIRED, "The queue token has ended");
        };
    }
}
