package io.actorvm.images;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Runs a command where {@code /dev/kvm} works: directly when this machine's does, otherwise inside
 * the emulated KVM host (L1) — QEMU's TCG emulating an AMD CPU with SVM and nested paging, running
 * Debian's kernel with {@code kvm_amd} — with this machine's files at their usual paths.
 *
 * <p>Inside, the command sees the machine's root read-only under a throw-away overlay, so every
 * installed tool is where it is outside; the work tree and the caches named in {@link Options}
 * are writable shares, so what the command writes there outlives the host. The command runs in
 * the same directory with the same environment and user; its stdout and stderr come back on two
 * virtio serial ports, its exit status through the control share. QEMU never outlives this call:
 * it is killed on timeout, on failure and from a shutdown hook (SIGINT, SIGTERM), and it dies with
 * its parent ({@code setpriv --pdeathsig}).
 */
public final class KvmHost {

    /** Exit status when the host itself failed (QEMU could not start, L1 did not run the command). */
    public static final int HOST_FAILURE = 125;
    /** Exit status on timeout, as timeout(1) reports it. */
    public static final int TIMED_OUT = 124;
    /** JVM options set inside the emulated host unless the caller set its own (ACTORVM_JVM_OPTS, MAVEN_OPTS). */
    public static final String EMULATED_JVM_OPTS = "-XX:TieredStopAtLevel=1";
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    /**
     * @param memoryMiB L1's memory
     * @param cpus      L1's vCPUs (TCG threads with {@code multiThreaded})
     * @param writable  directories shared writable at their own paths (the work tree first)
     */
    public record Options(long memoryMiB, int cpus, boolean multiThreaded, Duration timeout, List<Path> writable) {}

    private KvmHost() {}

    /** True when this machine's /dev/kvm can be opened for reading and writing. */
    public static boolean nativeKvm() {
        Path kvm = Path.of("/dev/kvm");
        return Files.exists(kvm) && Files.isReadable(kvm) && Files.isWritable(kvm);
    }

    /** Runs {@code command} natively, returning its exit status. */
    public static int runNatively(List<String> command, Duration timeout) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).inheritIO().start();
        Thread hook = new Thread(() -> p.descendants().forEach(ProcessHandle::destroy));
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                return TIMED_OUT;
            }
            return p.exitValue();
        } finally {
            removeHook(hook);
        }
    }

    /** Runs {@code command} inside the emulated host; returns its exit status (or {@link #HOST_FAILURE}, {@link #TIMED_OUT}). */
    public static int runEmulated(List<String> command, Options options, Consumer<String> log) throws IOException, InterruptedException {
        return runEmulated(command, options, log, BuildProgress.NONE);
    }

    /** As {@link #runEmulated(List, Options, Consumer)}; {@code imageProgress} follows the build of L1's image, if it needs one. */
    public static int runEmulated(List<String> command, Options options, Consumer<String> log, BuildProgress imageProgress)
            throws IOException, InterruptedException {
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        if (!Files.isExecutable(qemu)) {
            throw new GuestBuildException("no " + qemu + ": the emulated KVM host needs Debian's package qemu-system-x86");
        }
        KvmHostImage image = KvmHostImage.ensure(log, imageProgress);
        Path ctl = Files.createTempDirectory("actorvm-kvm-host-");
        Process qemuProcess = null;
        Thread hook = null, kicker = null;
        try {
            Path cwd = Path.of("").toAbsolutePath();
            writeControl(ctl, command, cwd, System.getenv(), options.writable());
            List<String> argv = qemuCommand(qemu, image, ctl, options);
            log.accept("starting the emulated KVM host: QEMU TCG (%s-threaded), %d vCPU(s), %d MiB, kernel %s; timeout %s"
                    .formatted(options.multiThreaded() ? "multi" : "single", options.cpus(), options.memoryMiB(),
                            image.kernelRelease(), options.timeout()));
            long t0 = System.nanoTime();
            // The command's stdout and stderr arrive on FIFOs that QEMU's pipe chardevs write (QEMU
            // opens them read-write, so neither side blocks on open); relayed until QEMU is gone.
            Thread out = relay(ctl.resolve("stdout.out"), System.out);
            Thread err = relay(ctl.resolve("stderr.out"), System.err);
            qemuProcess = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Process running = qemuProcess;
            hook = new Thread(() -> {
                running.descendants().forEach(ProcessHandle::destroyForcibly);
                running.destroyForcibly();
            });
            Runtime.getRuntime().addShutdownHook(hook);
            kicker = startKicker(ctl, qemuProcess);
            long deadline = System.nanoTime() + options.timeout().toNanos();
            int nmis = 0;
            boolean waitingForNmi = false;
            for (Watch w; (w = watch(qemuProcess, ctl.resolve("console.log"), deadline, waitingForNmi)) != Watch.EXITED; ) {
                switch (w) {
                    case TIMED_OUT -> {
                        log.accept("timed out after " + options.timeout() + "; stopping QEMU. L1 console: " + ctl.resolve("console.log"));
                        showCpus(ctl, log);
                        kill(qemuProcess);
                        keepConsole(ctl, log);
                        return TIMED_OUT;
                    }
                    case GREW -> {
                        log.accept("the emulated host went on after the NMI (its console grew again)");
                        waitingForNmi = false;
                    }
                    case STALLED -> {
                        log.accept("the emulated host stopped answering: no console output for "
                                + (waitingForNmi ? STALL_AFTER_NMI : STALL).toMinutes() + " min (it prints a heartbeat every minute)");
                        showCpus(ctl, log);
                        if (waitingForNmi || nmis == MAX_NMIS) {
                            log.accept("stopping QEMU after " + nmis + " NMI(s)");
                            kill(qemuProcess);
                            keepConsole(ctl, log);
                            return HOST_FAILURE;
                        }
                        // The kicker's key presses did not bring it back either (see startKicker).
                        // An NMI wakes a halted CPU if only a wake-up went missing; if the console
                        // goes on, so does the run. (Against the lost timer interrupt it did not help.)
                        nmis++;
                        waitingForNmi = true;
                        log.accept((nmi(ctl) ? "sent it an NMI" : "QEMU's monitor refused the NMI")
                                + "; watching " + STALL_AFTER_NMI.toMinutes() + " min for its console to go on");
                    }
                    case EXITED -> throw new IllegalStateException();
                }
            }
            out.join(2000);
            err.join(2000);
            Optional<Integer> status = readStatus(ctl);
            log.accept("emulated host finished in %.1f s (QEMU exit %d)".formatted((System.nanoTime() - t0) / 1e9, qemuProcess.exitValue()));
            if (status.isEmpty()) {
                String why = Files.exists(ctl.resolve("failure")) ? Files.readString(ctl.resolve("failure")).strip()
                        : "QEMU exited with status " + qemuProcess.exitValue() + " before the command finished";
                log.accept("the emulated host failed: " + why);
                keepConsole(ctl, log);
                return HOST_FAILURE;
            }
            return status.get();
        } finally {
            if (kicker != null) kicker.interrupt();
            if (qemuProcess != null) kill(qemuProcess);
            if (hook != null) removeHook(hook);
            GuestImage.deleteTree(ctl);
        }
    }

    /** How long the L1 console may stay silent before the host counts as hung (L1's heartbeat: 60 s, so five missed). */
    static final Duration STALL = Duration.ofMinutes(5);
    /** After an NMI, two missed heartbeats are enough to tell it did not help (a woken L1 says so at once). */
    static final Duration STALL_AFTER_NMI = Duration.ofMinutes(2);
    /** NMIs sent to a host that went silent, at most, before it counts as failed. */
    private static final int MAX_NMIS = 3;

    private enum Watch { EXITED, TIMED_OUT, STALLED, GREW }

    /**
     * Waits for QEMU to exit, for the deadline, or for the L1 console to stay silent for {@link #STALL}:
     * L1's init prints a heartbeat every minute, so silence means the emulated CPU is stuck (seen
     * in CI: an L1 with one vCPU went silent for an hour), and waiting on would only burn the
     * rest of the timeout. After an NMI ({@code afterNmi}) the wait is {@link #STALL_AFTER_NMI},
     * and the console growing at all ends it.
     */
    private static Watch watch(Process qemu, Path console, long deadline, boolean afterNmi) throws InterruptedException {
        Duration stall = afterNmi ? STALL_AFTER_NMI : STALL;
        long lastSize = console.toFile().length(), lastGrowth = System.nanoTime();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return Watch.TIMED_OUT;
            if (qemu.waitFor(Math.min(TimeUnit.NANOSECONDS.toMillis(left), 15_000), TimeUnit.MILLISECONDS)) return Watch.EXITED;
            long size = console.toFile().length();
            if (size != lastSize) {
                if (afterNmi) return Watch.GREW;
                lastSize = size;
                lastGrowth = System.nanoTime();
            } else if (System.nanoTime() - lastGrowth > stall.toNanos()) {
                return Watch.STALLED;
            }
        }
    }

    private static final Pattern VECTOR_REGISTERS = Pattern.compile("(FCW|FPR|[XYZ]MM|Opmask)");

    /** Prints what QEMU's monitor says of the emulated CPUs (where each one is, whether in a nested guest). */
    private static void showCpus(Path ctl, Consumer<String> log) throws InterruptedException {
        Thread ask = Thread.ofPlatform().daemon().name("kvm-host qmp").start(() -> {
            try (QemuMonitor m = QemuMonitor.connect(ctl.resolve("qmp.sock"))) {
                for (String command : List.of("info cpus", "info registers -a", "info lapic", "info pic")) {
                    log.accept("QEMU monitor, " + command + ":");
                    // General and control registers say where the CPU is; FPU and vector state would bury them.
                    m.human(command).lines().filter(l -> !l.isBlank() && !VECTOR_REGISTERS.matcher(l).lookingAt())
                            .forEach(l -> log.accept("  | " + l));
                }
            } catch (IOException e) {
                log.accept("QEMU's monitor did not answer: " + e.getMessage());
            }
        });
        ask.join(Duration.ofSeconds(20));
        if (ask.isAlive()) log.accept("QEMU's monitor did not answer within 20 s");
    }

    /** How often L1 gets a keyboard interrupt (see {@link #startKicker}): a lost interrupt costs at most this. */
    static final Duration KICK_PERIOD = Duration.ofSeconds(1);

    /**
     * QEMU's TCG loses an interrupt now and then (7.2 and 10.0 alike): L1's CPU sits halted, or runs
     * our L2 guest on, with the LAPIC timer's vector pending in IRR and never delivered, for good;
     * an NMI does not end it (seen in CI, about one run in three, and reproduced by hand with the
     * hostile guests' switch storm). Any new LAPIC interrupt does: QEMU then raises the CPU's
     * interrupt line again and delivers both (by hand: a key press through QMP woke an L1 stuck
     * for 101 s at once). So every {@link #KICK_PERIOD} L1 gets a Shift key press on its PS/2
     * keyboard, which its kernel takes and drops (no character, no console there). One QMP
     * connection per press: QEMU's monitor serves one client at a time, and the stall dump needs it too.
     */
    private static Thread startKicker(Path ctl, Process qemu) {
        return Thread.ofPlatform().daemon().name("kvm-host kick").start(() -> {
            try {
                while (qemu.isAlive()) {
                    Thread.sleep(KICK_PERIOD);
                    try (QemuMonitor m = QemuMonitor.connect(ctl.resolve("qmp.sock"))) {
                        m.pressKey("shift");
                    } catch (IOException e) {
                        // QEMU not listening yet, or gone: the next round tries again, or the loop ends.
                    }
                }
            } catch (InterruptedException e) {
                // the run is over
            }
        });
    }

    /** Asks QEMU's monitor to send the emulated CPUs an NMI; false if it could not. */
    private static boolean nmi(Path ctl) {
        try (QemuMonitor m = QemuMonitor.connect(ctl.resolve("qmp.sock"))) {
            m.injectNmi();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A daemon thread copying a FIFO to {@code to} until its writer (QEMU) exits. */
    private static Thread relay(Path fifo, java.io.PrintStream to) {
        Thread t = Thread.ofPlatform().daemon().name("kvm-host " + fifo.getFileName()).start(() -> {
            try (var in = Files.newInputStream(fifo)) {
                byte[] buf = new byte[8192];
                for (int n; (n = in.read(buf)) > 0; ) {
                    to.write(buf, 0, n);
                    to.flush();
                }
            } catch (IOException e) {
                to.println("actorvm kvm-host: lost the command's output: " + e.getMessage());
            }
        });
        return t;
    }

    static List<String> qemuCommand(Path qemu, KvmHostImage image, Path ctl, Options o) {
        List<String> a = new ArrayList<>(List.of("setpriv", "--pdeathsig", "KILL", qemu.toString(),
                "-accel", "tcg,thread=" + (o.multiThreaded() ? "multi" : "single") + ",tb-size=512",
                // No virtual GIF for L1's KVM: twice in CI an L1 using it halted for good with
                // interrupts on, the LAPIC timer pending and even an NMI not taken, which is what a
                // global interrupt flag left clear looks like (QEMU 7.2 emulates V_GIF on every
                // VMRUN and #VMEXIT of our L2 guests; without it KVM uses plain CLGI/STGI).
                "-M", "pc", "-cpu", "max,-vgif", "-smp", Integer.toString(o.cpus()), "-m", o.memoryMiB() + "M",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-kernel", image.vmlinuz().toString(), "-initrd", image.initramfs().toString(),
                "-append", "console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off tsc=reliable",
                "-serial", "file:" + ctl.resolve("console.log"),
                "-qmp", "unix:" + ctl.resolve("qmp.sock") + ",server=on,wait=off",
                "-device", "virtio-rng-pci",
                "-device", "virtio-serial-pci",
                "-chardev", "pipe,id=out,path=" + ctl.resolve("stdout"),
                "-device", "virtserialport,chardev=out,name=stdout",
                "-chardev", "pipe,id=err,path=" + ctl.resolve("stderr"),
                "-device", "virtserialport,chardev=err,name=stderr"));
        String model = DebianPackages.isRoot() ? "passthrough" : "none";
        share(a, "root", Path.of("/"), "none", true);
        share(a, "ctl", ctl, model, false);
        for (int i = 0; i < o.writable().size(); i++) share(a, "rw" + i, o.writable().get(i), model, false);
        return a;
    }

    private static void share(List<String> a, String tag, Path path, String model, boolean readOnly) {
        a.add("-fsdev");
        a.add("local,id=" + tag + ",path=" + path + ",security_model=" + model + (readOnly ? ",readonly=on" : "") + ",multidevs=remap");
        a.add("-device");
        a.add("virtio-9p-pci,fsdev=" + tag + ",mount_tag=" + tag);
    }

    /** The control share: environment, command, writable mounts; L1 writes {@code status} (or {@code failure}) back. */
    static void writeControl(Path ctl, List<String> command, Path cwd, Map<String, String> env, List<Path> writable)
            throws IOException, InterruptedException {
        for (String fifo : List.of("stdout.in", "stdout.out", "stderr.in", "stderr.out")) {
            Process mkfifo = new ProcessBuilder("mkfifo", "-m", "0600", ctl.resolve(fifo).toString()).inheritIO().start();
            if (mkfifo.waitFor() != 0) throw new IOException("mkfifo " + ctl.resolve(fifo) + " failed");
        }
        StringBuilder e = new StringBuilder("# environment of the command, written by actorvm kvm-host\n");
        Map<String, String> vars = new LinkedHashMap<>(env);
        // JVMs run emulated here: C2's compiles cost more than they gain (a JVM-and-Pekko start
        // took 84 s with tiered C2, 39 s with C1 only, on one emulated vCPU). Callers' own values win.
        vars.putIfAbsent("ACTORVM_JVM_OPTS", EMULATED_JVM_OPTS);
        vars.putIfAbsent("MAVEN_OPTS", EMULATED_JVM_OPTS);
        for (Map.Entry<String, String> v : vars.entrySet()) {
            if (ENV_NAME.matcher(v.getKey()).matches()) e.append("export ").append(v.getKey()).append('=').append(ShellWord.quote(v.getValue())).append('\n');
        }
        Files.writeString(ctl.resolve("env.sh"), e, StandardCharsets.UTF_8);

        StringBuilder c = new StringBuilder("# the command, written by actorvm kvm-host\n");
        c.append("cd ").append(ShellWord.quote(cwd.toString())).append(" || exit 125\n");
        List<String> argv = new ArrayList<>(command);
        List<Long> ids = uidGid();
        long uid = ids.getFirst(), gid = ids.getLast();
        if (uid != 0) argv.addAll(0, List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--init-groups"));
        c.append("exec");
        for (String arg : argv) c.append(' ').append(ShellWord.quote(arg));
        c.append('\n');
        Files.writeString(ctl.resolve("command.sh"), c, StandardCharsets.UTF_8);

        StringBuilder m = new StringBuilder("# writable shares: tag and path, written by actorvm kvm-host\nWRITABLE='");
        for (int i = 0; i < writable.size(); i++) m.append("rw").append(i).append(' ').append(writable.get(i).toString().replace("'", "")).append('\n');
        m.append("'\n");
        Files.writeString(ctl.resolve("mounts.sh"), m, StandardCharsets.UTF_8);
    }

    private static List<Long> uidGid() {
        try {
            return List.of(((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue(),
                    ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:gid")).longValue());
        } catch (IOException | RuntimeException e) {
            return List.of(0L, 0L);
        }
    }


    private static Optional<Integer> readStatus(Path ctl) {
        try {
            return Optional.of(Integer.parseInt(Files.readString(ctl.resolve("status")).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static void keepConsole(Path ctl, Consumer<String> log) {
        try {
            Path kept = Files.createTempFile("actorvm-kvm-host-console-", ".log");
            Files.copy(ctl.resolve("console.log"), kept, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            List<String> lines = Files.readAllLines(kept, StandardCharsets.ISO_8859_1);
            log.accept("L1 console kept in " + kept + "; its last lines:");
            lines.subList(Math.max(0, lines.size() - 15), lines.size()).forEach(l -> log.accept("  | " + l));
        } catch (IOException e) {
            log.accept("no L1 console log (" + e.getMessage() + ")");
        }
    }

    private static void kill(Process p) throws InterruptedException {
        if (!p.isAlive()) return;
        p.destroy();
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running already
        }
    }
}
