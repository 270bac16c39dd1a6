package io.actorvm.control.cli;

import io.actorvm.images.GuestBuildException;
import io.actorvm.images.GuestImage;
import io.actorvm.images.KvmHost;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code actorvm kvm-host -- CMD [ARGS...]}: run a command where /dev/kvm works. */
@Command(name = "kvm-host", mixinStandardHelpOptions = true,
        description = {
                "Run CMD with /dev/kvm available and exit with its status. Where this machine's /dev/kvm works with hardware virtualization, CMD runs "
                        + "directly. Elsewhere it runs inside an emulated KVM host: QEMU's TCG emulating an AMD CPU with SVM "
                        + "and nested paging, Debian's kernel with kvm_amd (built from Debian packages on first use, cached "
                        + "after). Inside, CMD sees this machine's files at their usual paths (read-only, under a throw-away "
                        + "overlay), the work tree and the guest cache writable, the same directory, environment and user.",
                "",
                "The emulated host compares VMMs side by side; it is no performance reference (an exit costs ~50 us "
                        + "there, ~1-2 us on hardware). Exit status: CMD's; 124 on timeout; 125 when the host itself failed."})
final class KvmHostCommand implements Callable<Integer> {
    static final long DEFAULT_MEMORY_MIB = 8192;
    static final int DEFAULT_CPUS = 1;

    @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "8G", description = "memory of the emulated host (default ${DEFAULT-VALUE})")
    String memory;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1",
            description = "vCPUs of the emulated host (default ${DEFAULT-VALUE}; see the README on why)")
    int cpus;

    @Option(names = "--tcg", paramLabel = "single|multi", defaultValue = "multi",
            description = "TCG threading: one host thread per vCPU (multi, default) or one for all (single)")
    String tcg;

    @Option(names = "--timeout", paramLabel = "MINUTES", defaultValue = "80", description = "stop CMD after this many minutes (default ${DEFAULT-VALUE})")
    long timeoutMinutes;

    @Option(names = "--emulated", description = "use the emulated host even where /dev/kvm works")
    boolean forceEmulated;

    @Parameters(arity = "1..*", paramLabel = "CMD", description = "the command and its arguments (after --)")
    List<String> command;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (cpus < 1 || cpus > 64) throw new IllegalArgumentException("--cpus must be between 1 and 64");
        if (!tcg.equals("single") && !tcg.equals("multi")) throw new IllegalArgumentException("--tcg must be single or multi");
        if (timeoutMinutes < 1) throw new IllegalArgumentException("--timeout must be at least 1 minute");
        long bytes = SizeParser.parse(memory);
        if (bytes < (512L << 20)) throw new IllegalArgumentException("--memory must be at least 512M");
        Duration timeout = Duration.ofMinutes(timeoutMinutes);
        // A KVM without VT-x/AMD-V (the emulating kvm_pvm of our development hosts) runs the test
        // guests but cannot boot Linux: such a host is no KVM host for every test either.
        if (KvmHost.nativeKvm() && HostCheck.hasHardwareVirtualization() && !forceEmulated) {
            System.err.println("actorvm kvm-host: this machine's /dev/kvm works with hardware virtualization: running the command directly");
            return KvmHost.runNatively(command, timeout);
        }
        Path home = Path.of(System.getProperty("actorvm.home", ".")).toAbsolutePath().normalize();
        System.err.println("actorvm kvm-host: " + (!Files.exists(Path.of("/dev/kvm")) ? "no /dev/kvm here"
                : KvmHost.nativeKvm() ? "this machine's KVM has no hardware virtualization (no vmx/svm)" : "/dev/kvm is not usable here")
                + ": running the command inside the emulated KVM host (about 10 s to start; guest code and the JVM run "
                + "emulated, several times slower than natively)");
        try (TerminalProgress progress = TerminalProgress.open("KVM host image", "actorvm kvm-host: ")) {
            return KvmHost.runEmulated(command, new KvmHost.Options(bytes >> 20, cpus, tcg.equals("multi"), timeout, writable(home)),
                    progress.log(), progress);
        } catch (GuestBuildException e) {
            System.err.println("actorvm: kvm-host: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
    }

    /** Shared writable into the emulated host: the work tree, the current directory if outside it, the guest cache. */
    static List<Path> writable(Path home) throws IOException {
        Path cwd = Path.of("").toAbsolutePath();
        List<Path> writable = new ArrayList<>(List.of(home));
        if (!cwd.startsWith(home)) writable.add(cwd);
        Path guests = GuestImage.defaultCacheRoot();
        Files.createDirectories(guests);
        writable.add(guests);
        return writable;
    }

    /** The options' defaults, for commands that run themselves in the emulated host. */
    static KvmHost.Options defaults(Path home) throws IOException {
        return new KvmHost.Options(DEFAULT_MEMORY_MIB, DEFAULT_CPUS, true, Duration.ofMinutes(30), writable(home));
    }
}
