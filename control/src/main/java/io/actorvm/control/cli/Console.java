package io.actorvm.control.cli;

import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.console.ConsoleOutput;
import io.actorvm.vmm.actors.console.ConsoleSink;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * The terminal as the guest's serial console: guest output to stdout, stdin to the guest.
 * When stdin is a terminal it is put in raw mode (restored at exit), and Ctrl-A x ends the VM,
 * Ctrl-A Ctrl-A sends a literal Ctrl-A, as in QEMU.
 */
final class Console {
    static final int CTRL_A = 0x01;

    private final OutputStream out = new FileOutputStream(FileDescriptor.out);
    private String savedTty;

    /** How long the end of a VM waits for its last output to reach stdout before the CLI goes on. */
    static final Duration LAST_OUTPUT_WAIT = Duration.ofSeconds(5);

    /**
     * A subscriber to the VM's console stream and its end, in one mailbox: guest output goes to
     * stdout through a bounded {@link ConsoleSink} (a terminal paused with Ctrl-S or a pipe nobody
     * reads then drops output instead of growing the heap or stalling the guest), and
     * {@code ended} completes with the VM's end, which the VM sends after the last of its output,
     * once that output is written (or {@link #LAST_OUTPUT_WAIT} has passed).
     */
    Behavior<Object> writer(CompletableFuture<Vm.Terminated> ended) {
        return Behaviors.setup(ctx -> {
            ConsoleSink sink = new ConsoleSink("stdout", bytes -> {
                try {
                    out.write(bytes);
                    out.flush();
                } catch (IOException e) {
                    // stdout closed (e.g. piped into head): the guest keeps running, its output goes nowhere
                }
            });
            return Behaviors.receive(Object.class)
                    .onMessage(ConsoleOutput.class, o -> {
                        sink.offer(o.bytes());
                        return Behaviors.same();
                    })
                    .onMessage(Vm.Terminated.class, t -> {
                        sink.awaitDrained(LAST_OUTPUT_WAIT); // runs on the blocking dispatcher
                        if (sink.dropped() > 0) {
                            System.err.println("actorvm: " + sink.dropped() + " bytes of console output were dropped (stdout did not keep up)");
                        }
                        ended.complete(t);
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, sig -> {
                        sink.close();
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /** Raw mode if stdin is a terminal; output processing stays on so "\n" still returns the carriage. */
    void enterRawMode() {
        if (System.console() == null || !new File("/dev/tty").exists()) return;
        try {
            savedTty = stty("-g").trim();
            stty("raw", "-echo", "opost", "onlcr");
        } catch (IOException | InterruptedException e) {
            savedTty = null;
        }
    }

    void restore() {
        if (savedTty == null) return;
        try {
            stty(savedTty);
        } catch (IOException | InterruptedException ignored) {
            // nothing more we can do for the terminal
        }
        savedTty = null;
    }

    private static String stty(String... args) throws IOException, InterruptedException {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "stty";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/tty")).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return text;
    }

    /** Feeds stdin to the VM on a daemon thread until EOF or Ctrl-A x. */
    void pumpInput(ActorRef<Vm.Command> vm, Runnable quit) {
        Thread.ofPlatform().name("console-input").daemon(true).start(() -> {
            InputStream in = System.in;
            byte[] buf = new byte[256];
            boolean escape = false;
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    byte[] forward = new byte[n];
                    int len = 0;
                    for (int i = 0; i < n; i++) {
                        int b = buf[i] & 0xFF;
                        if (escape) {
                            escape = false;
                            if (b == 'x' || b == 'X') {
                                quit.run();
                                return;
                            }
                            if (b == CTRL_A) forward[len++] = (byte) CTRL_A;
                        } else if (b == CTRL_A) {
                            escape = true;
                        } else {
                            forward[len++] = (byte) b;
                        }
                    }
                    if (len > 0) vm.tell(new Vm.ConsoleInput(Arrays.copyOf(forward, len)));
                }
            } catch (IOException e) {
                // stdin gone: the guest simply gets no more input
            }
        });
    }
}
