package com.concertbooking.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Spring's own logging (Apache Commons Logging) renders a message only when its level is on
 * (META-INF/services/org.apache.commons.logging.LogFactory), and still reaches Logback when it is.
 */
class CommonsLoggingTest {

    /** A message that counts how often it is rendered, as Spring's LogMessage renders lazily in toString. */
    static final class CountingMessage {
        final AtomicInteger rendered = new AtomicInteger();

        @Override
        public String toString() {
            rendered.incrementAndGet();
            return "rendered";
        }
    }

    @Test
    void aDebugMessageIsNotRenderedWhileDebugIsOffAndIsLoggedWhenOn() {
        String name = "com.concertbooking.support.CommonsLoggingTest.probe";
        Logger logback = (Logger) LoggerFactory.getLogger(name);
        Log log = LogFactory.getLog(name);
        CountingMessage message = new CountingMessage();

        logback.setLevel(Level.INFO);
        log.debug(message);
        log.trace(message);
        assertThat(log.isDebugEnabled()).isFalse();
        assertThat(message.rendered).as("rendered while debug is off").hasValue(0);

        var appender = new ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent>();
        appender.start();
        logback.addAppender(appender);
        try {
            logback.setLevel(Level.DEBUG);
            log.debug(message);
            assertThat(message.rendered.get()).isPositive();
            assertThat(appender.list).extracting(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).containsExactly("rendered");
            assertThat(appender.list.get(0).getLevel()).isEqualTo(Level.DEBUG);
        } finally {
            logback.detachAppender(appender);
            logback.setLevel(null);
        }
    }
}
