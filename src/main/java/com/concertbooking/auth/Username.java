package com.concertbooking.auth;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import jakarta.validation.Constraint;
import jakarta.validation.Payload;
import jakarta.validation.ReportAsSingleViolation;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;

/**
 * A username (SPEC 11): 3 to 64 of {@code A-Z a-z 0-9 . _ @ -}, nothing else (no spaces, accents or other widths
 * to fold). Unique without regard to case, and otherwise compared exactly.
 */
@Documented
@Constraint(validatedBy = {})
@NotNull
@Pattern(regexp = Username.PATTERN)
@ReportAsSingleViolation
@Target({ElementType.FIELD, ElementType.PARAMETER, ElementType.RECORD_COMPONENT, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
public @interface Username {

    String PATTERN = "[A-Za-z0-9._@-]{3,64}";

    String message() default "must be 3-64 letters, digits, '.', '_', '@' or '-'";

    Class<?>[] groups() default {};

    Class<? extends Payload>[] payload() default {};
}
