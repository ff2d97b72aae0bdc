package com.concertbooking.support;

import java.beans.PropertyEditorSupport;
import java.util.Collection;
import java.util.Set;

import org.springframework.core.convert.TypeDescriptor;
import org.springframework.core.convert.converter.GenericConverter;
import org.springframework.format.FormatterRegistry;
import org.springframework.web.bind.WebDataBinder;
import org.springframework.web.bind.annotation.ControllerAdvice;
import org.springframework.web.bind.annotation.InitBinder;
import org.springframework.web.reactive.config.WebFluxConfigurer;

/**
 * Every whole number a handler takes from a path or a query ({@code long}, {@code int} and their boxes: ids, page,
 * size) is read by {@link Ids}: canonical decimal, else 400 VALIDATION_FAILED (SPEC 3).
 * <p>Spring reads such a value through two mechanisms, and both are made strict here: the binder's editor for a
 * single text (a failed conversion-service converter would fall back to Spring's default number editor, which
 * trims and reads {@code +}, {@code 0x}, {@code #} and any Unicode digit), and the conversion service for what an
 * editor cannot take (a parameter given twice arrives as a list: refused, never "the first one").
 * <p>JSON bodies are strict through Jackson (application.yml: no coercion from text, floats or exponents; the JSON
 * grammar itself has no sign, leading zero or hex).
 */
@ControllerAdvice
class StrictNumberBinding implements WebFluxConfigurer {

    @InitBinder
    void canonicalNumbers(WebDataBinder binder) {
        binder.registerCustomEditor(long.class, new Editor(Long.class, false));
        binder.registerCustomEditor(Long.class, new Editor(Long.class, true));
        binder.registerCustomEditor(int.class, new Editor(Integer.class, false));
        binder.registerCustomEditor(Integer.class, new Editor(Integer.class, true));
    }

    @Override
    public void addFormatters(FormatterRegistry registry) {
        registry.addConverter(String.class, Long.class, text -> (Long) parse(text, Long.class));
        registry.addConverter(String.class, Integer.class, text -> (Integer) parse(text, Integer.class));
        registry.addConverter(new OneValue());
    }

    /** The value of {@code text} as {@code type}; IllegalArgumentException (a 400) for anything but canonical decimal. */
    static Number parse(String text, Class<?> type) {
        long max = type == Integer.class ? Integer.MAX_VALUE : Long.MAX_VALUE;
        long value = Ids.whole(text, max);
        if (value < 0) {
            throw new IllegalArgumentException("not a whole number in canonical decimal digits");
        }
        return type == Integer.class ? (Number) (int) value : (Number) value;
    }

    /** One binder's editor for one number type (editors hold state: a new one per binder). */
    private static final class Editor extends PropertyEditorSupport {

        private final Class<?> type;
        private final boolean emptyIsNull;

        Editor(Class<?> type, boolean emptyIsNull) {
            this.type = type;
            this.emptyIsNull = emptyIsNull;
        }

        @Override
        public void setAsText(String text) {
            setValue(emptyIsNull && text.isEmpty() ? null : parse(text, type));
        }
    }

    /** A list of values for one number (a query parameter given several times): exactly one, else refused. */
    private static final class OneValue implements GenericConverter {

        @Override
        public Set<ConvertiblePair> getConvertibleTypes() {
            return Set.of(new ConvertiblePair(Collection.class, Long.class), new ConvertiblePair(Collection.class, Integer.class),
                    new ConvertiblePair(Object[].class, Long.class), new ConvertiblePair(Object[].class, Integer.class));
        }

        @Override
        public Object convert(Object source, TypeDescriptor sourceType, TypeDescriptor targetType) {
            Object[] values = source instanceof Collection<?> c ? c.toArray() : (Object[]) source;
            if (values.length != 1 || !(values[0] instanceof String text)) {
                throw new IllegalArgumentException("expected exactly one value");
            }
            return parse(text, targetType.getObjectType());
        }
    }
}
