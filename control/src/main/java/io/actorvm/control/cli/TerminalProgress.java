package io.actorvm.control.cli;

import io.actorvm.images.BuildProgress;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Long CLI work as a progress bar on standard error when it is a terminal, as plain lines when it
 * is not (a log file, CI): on a terminal the work's log lines show as the bar's message while it
 * runs and are printed in full once it is done (its last step, or {@link #close}), so nothing is
 * drawn over; lines that come after that are printed as they come.
 */
final class TerminalProgress implements BuildProgress, AutoCloseable {
    private final PrintStream err;
    private final String prefix;
    private final ProgressBar bar; // null when not on a terminal
    private final List<String> held = new ArrayList<>();
    private boolean finished;

    private TerminalProgress(PrintStream err, String prefix, ProgressBar bar) {
        this.err = err;
        this.prefix = prefix;
        this.bar = bar;
    }

    /** A bar named {@code task} if standard error goes to a terminal; log lines start with {@code prefix}. */
    static TerminalProgress open(String task, String prefix) {
        return open(task, prefix, onTerminal(), System.err);
    }

    static TerminalProgress open(String task, String prefix, boolean terminal, PrintStream err) {
        if (!terminal) return new TerminalProgress(err, prefix, null);
        ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(-1).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(err)).setUpdateIntervalMillis(250).continuousUpdate()
                .hideEta().build();
        return new TerminalProgress(err, prefix, bar);
    }

    /** Whether this process talks to a terminal (a person watching), not a pipe or a file. */
    static boolean onTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal() && System.getenv("TERM") != null && !"dumb".equals(System.getenv("TERM"));
    }

    /** Where the work's log lines go. */
    Consumer<String> log() {
        return line -> {
            synchronized (held) {
                if (bar == null || finished) {
                    err.println(prefix + line);
                    return;
                }
                held.add(line);
            }
            bar.setExtraMessage(line.length() > 60 ? line.substring(0, 57) + "..." : line);
        };
    }

    @Override
    public void step(int done, int total, String next) {
        if (bar == null) return;
        bar.maxHint(total);
        bar.stepTo(done);
        bar.setExtraMessage(next);
        if (done >= total) close();
    }

    @Override
    public void close() {
        if (bar == null) return;
        synchronized (held) {
            if (finished) return;
            finished = true;
            bar.close();
            for (String line : held) err.println(prefix + line);
            held.clear();
        }
    }
}
