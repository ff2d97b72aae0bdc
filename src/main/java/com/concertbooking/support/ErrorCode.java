package com.concertbooking.support;

import org.springframework.http.HttpStatus;

/** The stable machine codes of SPEC section 3, each with its HTTP status. */
public enum ErrorCode {
    VALIDATION_FAILED(HttpStatus.BAD_REQUEST, "Validation failed"),
    REQUEST_REJECTED(HttpStatus.BAD_REQUEST, "Request rejected"),
    NOT_FOUND(HttpStatus.NOT_FOUND, "Not found"),
    METHOD_NOT_ALLOWED(HttpStatus.METHOD_NOT_ALLOWED, "Method not allowed"),
    NOT_ACCEPTABLE(HttpStatus.NOT_ACCEPTABLE, "Not acceptable"),
    UNAUTHENTICATED(HttpStatus.UNAUTHORIZED, "Authentication required"),
    INVALID_CREDENTIALS(HttpStatus.UNAUTHORIZED, "Invalid credentials"),
    TOKEN_MISSING(HttpStatus.UNAUTHORIZED, "Token missing"),
    TOKEN_INVALID(HttpStatus.UNAUTHORIZED, "Token invalid"),
    TOKEN_EXPIRED(HttpStatus.UNAUTHORIZED, "Token expired"),
    ADMIN_KEY_INVALID(HttpStatus.UNAUTHORIZED, "Admin key missing or wrong"),
    TOKEN_NOT_ACTIVE(HttpStatus.FORBIDDEN, "Token not active"),
    FORBIDDEN(HttpStatus.FORBIDDEN, "Forbidden"),
    CONCERT_NOT_FOUND(HttpStatus.NOT_FOUND, "Concert not found"),
    CONCERT_DATE_NOT_FOUND(HttpStatus.NOT_FOUND, "Concert date not found"),
    SEAT_NOT_FOUND(HttpStatus.NOT_FOUND, "Seat not found"),
    USER_NOT_FOUND(HttpStatus.NOT_FOUND, "User not found"),
    RESERVATION_NOT_FOUND(HttpStatus.NOT_FOUND, "Reservation not found"),
    SALE_NOT_OPEN(HttpStatus.CONFLICT, "Sale not open"),
    SALE_ALREADY_OPEN(HttpStatus.CONFLICT, "Sale already open"),
    SOLD_OUT(HttpStatus.CONFLICT, "Sold out"),
    PURCHASE_LIMIT_REACHED(HttpStatus.CONFLICT, "Purchase limit reached"),
    HOLD_LIMIT_REACHED(HttpStatus.CONFLICT, "Hold limit reached"),
    CONCERT_DATE_CLOSED(HttpStatus.CONFLICT, "Concert date closed"),
    SEAT_UNAVAILABLE(HttpStatus.CONFLICT, "Seat unavailable"),
    HOLD_EXPIRED(HttpStatus.CONFLICT, "Hold expired"),
    RESERVATION_NOT_PAYABLE(HttpStatus.CONFLICT, "Reservation not payable"),
    RESERVATION_NOT_CANCELLABLE(HttpStatus.CONFLICT, "Reservation not cancellable"),
    INSUFFICIENT_BALANCE(HttpStatus.CONFLICT, "Insufficient balance"),
    BALANCE_LIMIT_EXCEEDED(HttpStatus.CONFLICT, "Balance limit exceeded"),
    USERNAME_TAKEN(HttpStatus.CONFLICT, "Username taken"),
    IDEMPOTENCY_IN_PROGRESS(HttpStatus.CONFLICT, "Idempotent request in progress"),
    PAYLOAD_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE, "Payload too large"),
    UNSUPPORTED_MEDIA_TYPE(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    IDEMPOTENCY_KEY_REUSED(HttpStatus.UNPROCESSABLE_CONTENT, "Idempotency key reused"),
    TOO_MANY_REQUESTS(HttpStatus.TOO_MANY_REQUESTS, "Too many requests"),
    DEPENDENCY_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE, "Dependency unavailable"),
    INTERNAL_ERROR(HttpStatus.INTERNAL_SERVER_ERROR, "Internal error");

    private final HttpStatus status;
    private final String title;

    ErrorCode(HttpStatus status, String title) {
        this.status = status;
        this.title = title;
    }

    public HttpStatus status() {
        return status;
    }

    public String title() {
        return title;
    }
}
