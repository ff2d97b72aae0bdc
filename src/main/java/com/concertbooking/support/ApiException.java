package com.concertbooking.support;

/** A failure the client caused or must know about; rendered as problem+json with its code. */
public class ApiException extends RuntimeException {

    private final ErrorCode code;

    public ApiException(ErrorCode code, String detail) {
        super(detail, null, false, false); // no stack trace: these are expected outcomes, and hot
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }

    public static ApiException of(ErrorCode code, String detailFormat, Object... args) {
        return new ApiException(code, args.length == 0 ? detailFormat : String.format(detailFormat, args));
    }

    public static ApiException validation(String detail) {
        return new ApiException(ErrorCode.VALIDATION_FAILED, detail);
    }
}
