package com.concertbooking.support;

/** A failure the client caused or must know about; rendered as problem+json with its code. */
public class ApiException extends RuntimeException {

    private final ErrorCode code;
    private final java.time.Duration retryAfter;
    private final java.util.Map<String, Object> properties;

    public ApiException(ErrorCode code, String detail) {
        this(code, detail, null);
    }

    /** With a {@code Retry-After} for the client (429 and 503 answers). */
    public ApiException(ErrorCode code, String detail, java.time.Duration retryAfter) {
        this(code, detail, retryAfter, java.util.Map.of());
    }

    /** With extra members of the problem body (RFC 9457 extensions), e.g. the sale's times on SALE_NOT_OPEN. */
    public ApiException(ErrorCode code, String detail, java.time.Duration retryAfter, java.util.Map<String, Object> properties) {
        super(detail, null, false, false); // no stack trace: these are expected outcomes, and hot
        this.code = code;
        this.retryAfter = retryAfter;
        this.properties = java.util.Map.copyOf(properties);
    }

    /** Extension members of the problem body (never the standard ones). */
    public java.util.Map<String, Object> properties() {
        return properties;
    }

    public ErrorCode code() {
        return code;
    }

    /** When the client may try again, or null. */
    public java.time.Duration retryAfter() {
        return retryAfter;
    }

    public static ApiException tooManyRequests(String detail, java.time.Duration retryAfter) {
        return new ApiException(ErrorCode.TOO_MANY_REQUESTS, detail, retryAfter);
    }

    public static ApiException of(ErrorCode code, String detailFormat, Object... args) {
        return new ApiException(code, args.length == 0 ? detailFormat : String.format(detailFormat, args));
    }

    public static ApiException validation(String detail) {
        return new ApiException(ErrorCode.VALIDATION_FAILED, detail);
    }
}
