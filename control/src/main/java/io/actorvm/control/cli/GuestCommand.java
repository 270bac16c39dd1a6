package io.actorvm.control.cli;

import io.actorvm.boot.KernelFormatException;
import io.actorvm.images.GuestBuildException;
import io.actorvm.images.GuestImage;
import io.actorvm.images.ShellWord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code actorvm guest}: Linux guest images. */
@Command(name = "guest", mixinStandardHelpOptions = true, description = "Linux guest images.",
        subcommands = {GuestCommand.Build.class, GuestCommand.Symbols.class})
final class GuestCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** {@code actorvm guest build}: a kernel and busybox initramfs from Debian packages, cached. */
    @Command(name = "build", mixinStandardHelpOptions = true,
            description = {
                    "Assemble a Linux guest from Debian packages (apt-get download + dpkg-deb -x; nothing is installed "
                            + "into the host): vmlinuz, the ELF vmlinux inside it, and a busybox initramfs with the virtio "
                            + "modules. Versions are resolved first; a guest already built for them is reused without work.",
                    "",
                    "The guest's /init runs the words after '--' on the kernel command line as a command "
                            + "(e.g. --cmdline '" + GuestImage.CMDLINE + " -- uname -a'), or a shell when there are none, "
                            + "then reboots. With reboot=k Linux resets through the i8042 keyboard controller, which ends "
                            + "the VM under actorvm; panic=-1 does the same on a kernel panic.",
                    "",
                    "Prints the output paths and the command line to run the guest. Errors (no apt-get, no network, "
                            + "unknown package) are one line on stderr with exit status 2."})
    static final class Build implements Callable<Integer> {
        @Option(names = "--kernel-package", paramLabel = "NAME", defaultValue = GuestImage.DEFAULT_KERNEL_PACKAGE,
                description = "Debian kernel package: linux-image-cloud-amd64 (default, LZ4, smaller), linux-image-amd64 (XZ) "
                        + "or a versioned linux-image-6.1.0-NN-... package")
        String kernelPackage;

        @Option(names = "--out", paramLabel = "DIR",
                description = "output directory (default: $${XDG_CACHE_HOME:-~/.cache}/actorvm/guests/<kernel package>_<version>+busybox_<version>)")
        Path out;

        @Override
        public Integer call() {
            GuestImage guest;
            try (TerminalProgress progress = TerminalProgress.open("guest build", "actorvm guest: ")) {
                guest = GuestImage.build(kernelPackage, Optional.ofNullable(out), progress.log(), progress);
            } catch (GuestBuildException | KernelFormatException | UncheckedIOException e) {
                System.err.println("actorvm: guest build: " + e.getMessage());
                return Main.USAGE_ERROR;
            }
            System.out.println("vmlinuz:    " + guest.vmlinuz());
            System.out.println("vmlinux:    " + guest.vmlinux());
            System.out.println("initramfs:  " + guest.initramfs());
            System.out.println("properties: " + guest.properties());
            System.out.println("run with:   " + launcher() + " run --kernel " + ShellWord.quote(guest.vmlinux().toString())
                    + " --initrd " + ShellWord.quote(guest.initramfs().toString())
                    + " --cmdline " + ShellWord.quote(GuestImage.CMDLINE) + " --memory 256M");
            System.out.println("            (append ' -- COMMAND ARGS' inside --cmdline to run a command instead of a shell)");
            return 0;
        }

        private static String launcher() {
            String home = System.getProperty("actorvm.home");
            if (home == null) return "actorvm";
            Path h = Path.of(home).toAbsolutePath().normalize();
            return h.equals(Path.of("").toAbsolutePath().normalize()) ? "./actorvm" : ShellWord.quote(h.resolve("actorvm").toString());
        }
    }

    @Command(name = "symbols", mixinStandardHelpOptions = true,
            description = {"Turn a guest kernel's /proc/kallsyms (or a System.map) into a symbol file for gdb.",
                    "Debian's vmlinux is stripped and its System.map a placeholder; inside the guest, as root: "
                            + "cat /proc/kallsyms > /dev/vdb (a scratch disk), then here: actorvm guest symbols DISK.img vmlinux.sym, "
                            + "and in gdb: symbol-file vmlinux.sym."})
    static final class Symbols implements Callable<Integer> {
        @picocli.CommandLine.Parameters(index = "0", paramLabel = "KALLSYMS", description = "kallsyms or System.map text (NUL padding after it is ignored)")
        Path input;

        @picocli.CommandLine.Parameters(index = "1", paramLabel = "OUT", description = "the ELF symbol file to write")
        Path output;

        @Override
        public Integer call() {
            try {
                int n = io.actorvm.images.KernelSymbols.write(input, output);
                System.out.println(output + ": " + n + " kernel symbols");
                return 0;
            } catch (java.io.IOException | IllegalArgumentException e) {
                System.err.println("actorvm: guest symbols: " + (e.getMessage() != null ? e.getMessage() : e));
                return Main.USAGE_ERROR;
            }
        }
    }
}
