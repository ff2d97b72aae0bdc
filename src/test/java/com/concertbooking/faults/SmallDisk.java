package com.concertbooking.faults;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A small file system (tmpfs of a few MB, mounted by root) for a disk-full fault: {@link #fill()} writes a filler
 * file until the file system has no space left (ENOSPC for everyone writing there), {@link #free()} deletes it.
 * Unmounted on {@link #close()} and, as a safety net, when the JVM exits.
 */
public final class SmallDisk implements AutoCloseable {

    private final Path mountPoint;
    private final Path filler;
    private boolean mounted;

    private SmallDisk(Path mountPoint) {
        this.mountPoint = mountPoint.toAbsolutePath();
        this.filler = this.mountPoint.resolve("filler");
    }

    /** Why this machine cannot give a test a small file system, or null when it can. */
    public static String unavailableReason() {
        if (!LocalProcesses.isRoot()) {
            return "mounting a small tmpfs for the disk-full fault needs root (CI runs as root); not run as "
                    + System.getProperty("user.name");
        }
        if (!LocalProcesses.onPath("mount") || !LocalProcesses.onPath("umount")) {
            return "mount/umount are not on the PATH";
        }
        return null;
    }

    public static SmallDisk mount(Path mountPoint, int megabytes) {
        SmallDisk disk = new SmallDisk(mountPoint);
        try {
            Files.createDirectories(disk.mountPoint);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        LocalProcesses.check(Duration.ofSeconds(10), List.of("mount", "-t", "tmpfs", "-o", "size=" + megabytes + "m",
                "tmpfs", disk.mountPoint.toString()));
        disk.mounted = true;
        Runtime.getRuntime().addShutdownHook(new Thread(disk::unmount, "umount-" + disk.mountPoint.getFileName()));
        return disk;
    }

    public Path path() {
        return mountPoint;
    }

    /** Writes zeros until ENOSPC. @return the bytes written */
    public long fill() {
        byte[] block = new byte[64 * 1024];
        long written = 0;
        try (OutputStream out = Files.newOutputStream(filler)) {
            while (true) {
                out.write(block);
                written += block.length;
            }
        } catch (IOException e) {
            // ENOSPC: full
        }
        return written;
    }

    public void free() {
        try {
            Files.deleteIfExists(filler);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Free bytes left on the file system. */
    public long usable() {
        try {
            return Files.getFileStore(mountPoint).getUsableSpace();
        } catch (IOException e) {
            return -1;
        }
    }

    private synchronized void unmount() {
        if (mounted) {
            LocalProcesses.run(Duration.ofSeconds(10), "umount", "-l", mountPoint.toString());
            mounted = false;
        }
    }

    @Override
    public void close() {
        unmount();
    }
}
