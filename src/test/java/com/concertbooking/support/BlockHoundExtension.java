package com.concertbooking.support;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Installs BlockHound before the first test class of the JVM runs, whatever its kind (auto-detected through
 * META-INF/services). Installed later, after a plain test had already started Reactor's schedulers, BlockHound
 * retransformed the queue a parked parallel worker waited in, and the workers died with IllegalMonitorStateException.
 */
public final class BlockHoundExtension implements BeforeAllCallback {

    @Override
    public void beforeAll(ExtensionContext context) {
        NoBlockingOnEventLoops.install();
    }
}
