package com.concertbooking.booking;

import java.util.List;

import com.concertbooking.booking.ReservationService.HoldCommand;
import com.concertbooking.booking.ReservationService.Reservation;
import com.concertbooking.auth.ActivePass;
import com.concertbooking.auth.Caller;
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
import reactor.core.publisher.Mono;

@RestController
@RequestMapping("/api/v1/reservations")
class ReservationController {

    private final ReservationService reservations;

    public ReservationController(ReservationService reservations) {
        this.reservations = reservations;
    }

    public record HoldRequest(@NotNull @Positive Long userId,
                              @NotNull @Positive Long concertDateId,
                              @NotNull @Positive @Max(1_000_000) Integer seatNumber,
                              @Positive Long concertId) {}

    /** The caller's own hold, with an ACTIVE pass of the date's concert (checked on the seat's row, in the service). */
    @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
    @ResponseStatus(HttpStatus.CREATED)
    public Mono<Reservation> hold(Caller caller, ActivePass pass, @Valid @RequestBody Mono<HoldRequest> body) {
        return body.flatMap(request -> {
            caller.requireSelf(request.userId());
            return reservations.hold(pass, new HoldCommand(request.userId(), request.concertDateId(), request.seatNumber(), request.concertId()));
        });
    }

    @GetMapping("/{userId}")
    public Mono<List<Reservation>> mine(@PathVariable @Positive long userId, Caller caller) {
        caller.requireSelf(userId);
        return reservations.list(userId);
    }

    @DeleteMapping("/{reservationId}")
    public Mono<Reservation> cancel(@PathVariable @Positive long reservationId, @RequestParam @Positive long userId, Caller caller) {
        caller.requireSelf(userId);
        return reservations.cancel(reservationId, userId);
    }
}
