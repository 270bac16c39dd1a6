package io.actorvm.control.api;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.FileAppender;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * {@code PUT /logger}: actorvm's log (the {@code io.actorvm} loggers, or the one {@code module}
 * names) also goes to {@code log_path}, a file or FIFO, at {@code level} (Error, Warning, Info,
 * Debug, Trace or Off, any case), with the level and the logger's name when asked
 * ({@code show_level}, {@code show_log_origin}). stderr keeps its warnings-only log.
 */
final class FirecrackerLogger {
    static final Map<String, Level> LEVELS = Map.of("error", Level.ERROR, "warning", Level.WARN, "warn", Level.WARN,
            "info", Level.INFO, "debug", Level.DEBUG, "trace", Level.TRACE, "off", Level.OFF);
    static final String APPENDER = "firecracker-log";

    private FirecrackerLogger() {
    }

    static synchronized void configure(FirecrackerModel.Logger l) {
        Level level = l.level() == null ? Level.INFO : LEVELS.get(l.level().toLowerCase(Locale.ROOT));
        if (level == null) throw new IllegalArgumentException("level must be Error, Warning, Info, Debug, Trace or Off, not " + l.level());
        String module = l.module() == null ? "io.actorvm" : l.module();
        if (!module.matches("[A-Za-z_$][A-Za-z0-9_$.]*")) throw new IllegalArgumentException("module " + module + " is not a logger name");
        if (l.logPath() != null) {
            Path path = Path.of(l.logPath());
            if (path.getParent() != null && !Files.isDirectory(path.toAbsolutePath().getParent())) {
                throw new IllegalArgumentException("log_path " + path + ": its directory does not exist");
            }
        }
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ch.qos.logback.classic.Logger logger = ctx.getLogger(module);
        keepStderrAtItsLevel(ctx);
        logger.setLevel(level);
        if (l.logPath() == null) return;
        var old = logger.getAppender(APPENDER);
        if (old != null) {
            logger.detachAppender(old);
            old.stop();
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(ctx);
        encoder.setPattern("%d{yyyy-MM-dd'T'HH:mm:ss.SSS}" + (Boolean.TRUE.equals(l.showLevel()) ? " [%level]" : "")
                + (Boolean.TRUE.equals(l.showLogOrigin()) ? " %logger:%line" : "") + " %msg%n");
        encoder.start();
        FileAppender<ILoggingEvent> appender = new FileAppender<>();
        appender.setName(APPENDER);
        appender.setContext(ctx);
        appender.setFile(l.logPath());
        appender.setAppend(true);
        appender.setEncoder(encoder);
        appender.start();
        if (!appender.isStarted()) throw new IllegalArgumentException("cannot open log_path " + l.logPath());
        logger.addAppender(appender);
    }

    /** A finer level for the file must not reach stderr (the guest's console may share the terminal). */
    private static void keepStderrAtItsLevel(LoggerContext ctx) {
        ch.qos.logback.classic.Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        var stderr = root.getAppender("STDERR");
        if (stderr == null || !stderr.getCopyOfAttachedFiltersList().isEmpty()) return;
        ch.qos.logback.classic.filter.ThresholdFilter threshold = new ch.qos.logback.classic.filter.ThresholdFilter();
        threshold.setLevel((root.getLevel() == null ? Level.WARN : root.getLevel()).toString());
        threshold.start();
        stderr.addFilter(threshold);
    }
}
