package com.concertbooking.faults;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A private MariaDB server (its own data directory, port and socket) that a fault test may stop, kill and start
 * again: the shared server on 3306 is never touched. The application user {@code booking}/{@code booking} gets
 * every privilege on it.
 */
public final class MariaDbProcess implements AutoCloseable {

    public static final String USER = "booking";
    public static final String PASSWORD = "booking";

    private final Path dir;
    private final int port;
    private Process process;

    private MariaDbProcess(Path dir, int port) {
        this.dir = dir.toAbsolutePath();
        this.port = port;
    }

    public static boolean available() {
        return LocalProcesses.onPath("mariadbd") && LocalProcesses.onPath("mariadb-install-db");
    }

    /** Initialises the data directory (first time only) and starts the server. */
    public static MariaDbProcess start(Path dir, int port) {
        MariaDbProcess db = new MariaDbProcess(dir, port);
        db.install();
        db.start();
        db.sql("CREATE USER IF NOT EXISTS '" + USER + "'@'%' IDENTIFIED BY '" + PASSWORD + "'; "
                + "CREATE USER IF NOT EXISTS '" + USER + "'@'localhost' IDENTIFIED BY '" + PASSWORD + "'; "
                + "GRANT ALL PRIVILEGES ON *.* TO '" + USER + "'@'%'; GRANT ALL PRIVILEGES ON *.* TO '" + USER + "'@'localhost'");
        return db;
    }

    /**
     * A fresh directory for a test's server under the system's temporary directory: mariadbd runs as the user
     * {@code mysql} when started by root, and must be able to reach its data directory (a checkout under /root
     * would not let it).
     */
    public static Path tempDir() {
        try {
            return Files.createTempDirectory("booking-faults-mariadb-");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public int port() {
        return port;
    }

    public Path dir() {
        return dir;
    }

    public String jdbcUrl(String database) {
        return "jdbc:mariadb://127.0.0.1:" + port + "/" + database;
    }

    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(database), USER, PASSWORD);
    }

    public void createDatabase(String name) {
        sql("CREATE DATABASE IF NOT EXISTS `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
    }

    private void install() {
        try {
            Files.createDirectories(dir.resolve("data"));
            if (LocalProcesses.isRoot()) {
                LocalProcesses.check(Duration.ofSeconds(10), List.of("chown", "-R", "mysql:mysql", dir.toString()));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        if (Files.isDirectory(dir.resolve("data/mysql"))) {
            return;
        }
        List<String> command = new ArrayList<>(List.of("mariadb-install-db", "--no-defaults", "--datadir=" + dir.resolve("data"),
                "--auth-root-authentication-method=normal", "--skip-test-db"));
        if (LocalProcesses.isRoot()) {
            command.add("--user=mysql");
        }
        LocalProcesses.check(Duration.ofSeconds(120), command);
    }

    /** Starts the server (again) on the same data; returns once it answers SQL. */
    public synchronized void start() {
        if (process != null && process.isAlive()) {
            return;
        }
        List<String> command = new ArrayList<>(List.of(binary(), "--no-defaults", "--datadir=" + dir.resolve("data"),
                "--port=" + port, "--bind-address=127.0.0.1", "--socket=" + dir.resolve("mysqld.sock"),
                "--pid-file=" + dir.resolve("mariadbd.pid"), "--log-error=" + dir.resolve("error.log"),
                "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=32M", "--skip-log-bin", "--max-connections=500",
                "--innodb-flush-log-at-trx-commit=1", "--skip-name-resolve"));
        if (LocalProcesses.isRoot()) {
            command.add("--user=mysql");
        }
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("console.log").toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        LocalProcesses.stopOnExit(process, "mariadbd-" + port);
        LocalProcesses.await(Duration.ofSeconds(60), "private MariaDB on " + port + " (see " + dir.resolve("error.log") + ")", () -> {
            if (!process.isAlive()) {
                throw new IllegalStateException("private MariaDB exited; see " + dir.resolve("error.log"));
            }
            return answers();
        });
    }

    private static String binary() {
        return Files.isExecutable(Path.of("/usr/sbin/mariadbd")) ? "/usr/sbin/mariadbd" : "mariadbd";
    }

    private boolean answers() {
        try (Connection c = DriverManager.getConnection("jdbc:mariadb://127.0.0.1:" + port + "/?connectTimeout=1000", "root", "")) {
            return c.isValid(1);
        } catch (SQLException e) {
            return false;
        }
    }

    public boolean running() {
        return process != null && process.isAlive();
    }

    /** A clean shutdown (SIGTERM: connections are closed, committed work is on disk). */
    public synchronized void stop() {
        LocalProcesses.stop(process, Duration.ofSeconds(60));
        process = null;
    }

    /** A crash (SIGKILL): InnoDB recovers committed work from its redo log at the next start. */
    public synchronized void kill() {
        LocalProcesses.kill(process);
        process = null;
    }

    /** Runs statements as root over TCP (root has no password on this private server). */
    public void sql(String statements) {
        try (Connection c = DriverManager.getConnection("jdbc:mariadb://127.0.0.1:" + port + "/?allowMultiQueries=true", "root", "")) {
            c.createStatement().execute(statements);
        } catch (SQLException e) {
            throw new IllegalStateException(statements + ": " + e, e);
        }
    }

    @Override
    public void close() {
        stop();
    }
}
