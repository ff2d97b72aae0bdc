package com.concertbooking.auth;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.charset.StandardCharsets;

import jakarta.validation.Constraint;
import jakarta.validation.ConstraintValidator;
import jakarta.validation.ConstraintValidatorContext;
import jakarta.validation.Payload;

/**
 * A password (SPEC 11): 8 to 72 bytes of UTF-8, bcrypt's limit (a longer one is a 400, never truncated and never a
 * 500 from the encoder). Null is valid: say {@code @NotNull} where a password is required.
 */
@Documented
@Constraint(validatedBy = Password.Bytes.class)
@Target({ElementType.FIELD, ElementType.PARAMETER, ElementType.RECORD_COMPONENT, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
public @interface Password {

    int MIN_BYTES = 8, MAX_BYTES = 72;

    String message() default "must be 8 to 72 bytes (UTF-8)";

    Class<?>[] groups() default {};

    Class<? extends Payload>[] payload() default {};

    class Bytes implements ConstraintValidator<Password, String> {
        @Override
        public boolean isValid(String value, ConstraintValidatorContext context) {
            if (value == null) {
                return true;
            }
            int bytes = value.getBytes(StandardCharsets.UTF_8).length;
            return bytes >= MIN_BYTES && bytes <= MAX_BYTES;
        }
    }
}
