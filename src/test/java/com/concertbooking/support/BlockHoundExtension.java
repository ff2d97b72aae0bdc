package com.concertbooking.support;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Installs BlockHound before the first test class of the JVM runs, whatever its kind (auto-detected through
 * META-INF/services). Installed later, after a plain test had already started Reactor's schedulers, BlockHound
 * retransformed the queue a parked parallel worker waited in, and the workers died with IllegalMonitorStateException.
 * Off ({@code booking.test.blockhound=false}) for the failsafe tests, whose service runs in other processes.
 */
public final class BlockHoundExtension implements BeforeAllCallback {

    @Override
    public void beforeAll(ExtensionContext context) {
        if (Boolean.parseBoolean(System.getProperty("booking.test.blockhound", "true"))) {
            NoBlockingOnEventLoops.install();
        }
    }
}
