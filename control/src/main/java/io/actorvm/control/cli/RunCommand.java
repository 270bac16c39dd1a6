package io.actorvm.control.cli;

import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.boot.CpuFeature;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code actorvm run}: boots a kernel with the terminal as its serial console. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run a guest kernel (Linux bzImage, or an ELF such as vmlinux with a PVH entry note). The serial console is the terminal; "
                + "Ctrl-A x quits. The exit status is the guest's debug-exit status. With --api-sock and no --kernel, the VM is configured "
                + "and started through the API, Firecracker's way (PUT /boot-source, /machine-config, /drives/ID, /actions ...).")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--kernel", paramLabel = "FILE", description = "guest kernel (without it, --api-sock: configured through the API)")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "FILE", description = "initial RAM disk")
    Path initrd;

    @Option(names = "--cmdline", paramLabel = "S", defaultValue = "", description = "kernel command line")
    String cmdline;

    @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "128M", description = "guest RAM, e.g. 16M, 1G (default ${DEFAULT-VALUE})")
    String memory;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "vCPUs (default ${DEFAULT-VALUE})")
    int cpus;

    @Option(names = "--disk", paramLabel = "PATH[,ro]",
            description = "a raw disk image as a virtio-blk device (repeatable; ,ro for read-only)")
    java.util.List<String> disks = new java.util.ArrayList<>();

    @Option(names = "--net", paramLabel = "tap=NAME|switch=NAME|none",
            description = "a virtio-net device on a host tap device or an in-JVM switch (repeatable; ,mac=xx:..:xx)")
    java.util.List<String> nets = new java.util.ArrayList<>();

    @Option(names = "--rng", description = "give the guest a virtio-rng device fed by the host's SecureRandom")
    boolean rng;

    @Option(names = "--cpu-features", paramLabel = "LIST",
            description = "CPUID features to hide from the guest, QEMU style: e.g. -cx16,-xsave")
    String cpuFeatures;

    @Option(names = "--hugepages", paramLabel = "none|thp|2M", defaultValue = "none",
            description = "what backs guest RAM: 4 KiB pages, transparent huge pages, or 2 MiB pages of the hugetlbfs pool "
                    + "(/proc/sys/vm/nr_hugepages; all taken at start) (default ${DEFAULT-VALUE})")
    String hugePages;

    @Option(names = "--name", paramLabel = "NAME", defaultValue = "vm", description = "VM name (default ${DEFAULT-VALUE})")
    String name;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "journal and snapshots of this VM (embedded H2 journal in DIR/journal.mv.db)")
    Path dataDir;

    @picocli.CommandLine.Mixin
    ApiOptions api;

    @picocli.CommandLine.Option(names = "--web-console", description = "serve the web console at /ui/ of the --api tcp:HOST:PORT endpoint")
    boolean webConsole;

    @picocli.CommandLine.Mixin
    RecordOption record;

    @Option(names = "--stats", description = "print exit and device counters to stderr when the VM ends")
    boolean stats;

    @Option(names = "--jfr", paramLabel = "FILE",
            description = "record actorvm's JFR events (sampled exits, snapshots, restores, device errors) to FILE")
    java.nio.file.Path jfr;

    @Option(names = "--gdb", paramLabel = "tcp:127.0.0.1:PORT",
            description = "serve gdb's remote protocol there; the guest waits for gdb before its first instruction")
    String gdb;

    @Option(names = "--gdb-step-breakpoints",
            description = "for hosts whose KVM cannot deliver breakpoint exceptions, such as KVM nested under QEMU's TCG: breakpoints "
                    + "in supervisor code become a one-byte port write that exits (a guest whose DX names a port KVM handles itself "
                    + "misses it), others and watchpoints are found by single-stepping (slow)")
    boolean gdbStepping;

    @Override
    public Integer call() throws Exception {
        if (webConsole && kernel == null) {
            System.err.println("actorvm: --web-console goes with --kernel (a VM configured through Firecracker's routes has none yet; "
                    + "actorvm serve has one for every VM)");
            return Main.USAGE_ERROR;
        }
        api.webConsole = webConsole;
        if (kernel == null) return apiConfigured();
        if (!VmRunner.gdbAddressValid(gdb)) return Main.USAGE_ERROR;
        VmConfig config;
        io.actorvm.devices.HostSources sources;
        try {
            config = new VmConfig(name, kernel, cmdline, SizeParser.parse(memory), cpus, initrd,
                    CpuFeature.parseDisabled(cpuFeatures), disks.stream().map(DiskConfig::parse).toList(), rng,
                    nets.stream().map(NetConfig::parse).filter(java.util.Objects::nonNull).toList(), dataDir,
                    io.actorvm.mmu.HugePages.parse(hugePages));
            sources = record.sources(dataDir, name);
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        VmConfig vm = config;
        return VmRunner.withRecording(jfr, () -> VmRunner.run(vm, io.actorvm.vmm.actors.Vm.create(vm, sources,
                gdb != null), api, stats, true, gdb, gdbStepping));
    }

    /** No kernel: Firecracker's way, the VM is configured and started through the API. */
    private int apiConfigured() throws InterruptedException {
        io.actorvm.control.api.ApiEndpoint endpoint;
        try {
            endpoint = api.endpoint();
            if (endpoint == null) throw new IllegalArgumentException("give --kernel FILE, or --api-sock PATH to configure the VM through the API");
            if (initrd != null || !disks.isEmpty() || !nets.isEmpty() || rng || !cmdline.isEmpty() || cpuFeatures != null) {
                throw new IllegalArgumentException("--initrd, --cmdline, --disk, --net, --rng and --cpu-features go with --kernel "
                        + "(without it the API configures the VM: PUT /boot-source, /drives/ID, ...)");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        return VmRunner.withRecording(jfr, () -> ApiConfiguredRun.run(name, dataDir, endpoint, stats));
    }
}
