package io.actorvm.control.api;

import io.actorvm.control.api.FirecrackerModel.BootSource;
import io.actorvm.control.api.FirecrackerModel.Drive;
import io.actorvm.control.api.FirecrackerModel.EntropyDevice;
import io.actorvm.control.api.FirecrackerModel.MachineConfig;
import io.actorvm.control.api.FirecrackerModel.NetworkInterface;
import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The one VM a VMM process serves, as Firecracker's API sees it: first configured piece by piece
 * (boot source, machine config, drives, network interfaces, entropy), then started
 * ({@code InstanceStart}) or loaded from a snapshot, after which the configuration is fixed and
 * requests go to the running {@link Vm}. A process started with a kernel on the command line
 * begins started ({@link #running}).
 *
 * <p>Thread-safe: requests arrive on pekko-http's threads; every change is under this object's lock.
 */
public final class MicroVm {
    /** Firecracker's command line when none is given, minus what would hide the serial console. */
    static final String DEFAULT_BOOT_ARGS = "reboot=k panic=1 pci=off";
    static final int DEFAULT_VCPUS = 1, DEFAULT_MEM_MIB = 128;

    /** Starts a VM: spawns {@code behavior}, attaches the console, sends Start; completes with the VM once it runs. */
    @FunctionalInterface
    public interface Launcher {
        CompletionStage<ActorRef<Vm.Command>> launch(Behavior<Vm.Command> behavior, VmConfig config, boolean checkKernel);
    }

    /** A request that the instance's state does not allow (pre-boot only, post-boot only): 400. */
    static final class NotAllowed extends RuntimeException {
        NotAllowed(String message) {
            super(message);
        }
    }

    private final String id;
    private final Path dataDir;
    private final Launcher launcher;
    private ActorRef<Vm.Command> vm;
    private boolean starting;
    /** When the current VM started, and how it was configured (for a restore in place). */
    private java.time.Instant startedAt;
    private VmConfig launchedConfig;

    private BootSource bootSource;
    private MachineConfig machine = new MachineConfig(DEFAULT_VCPUS, DEFAULT_MEM_MIB, false, false, null, null);
    private boolean configured;
    private final Map<String, Drive> drives = new LinkedHashMap<>();
    private final Map<String, NetworkInterface> nets = new LinkedHashMap<>();
    private EntropyDevice entropy;
    private FirecrackerModel.Logger logger;
    private FirecrackerModel.Metrics metrics;

    private MicroVm(String id, Path dataDir, Launcher launcher) {
        this.id = id;
        this.dataDir = dataDir;
        this.launcher = launcher;
    }

    /** An instance waiting for its configuration; snapshots go to {@code dataDir}. */
    public static MicroVm unconfigured(String id, Path dataDir, Launcher launcher) {
        return new MicroVm(id, dataDir, launcher);
    }

    /** An instance already running {@code vm}, configured as {@code config} (null when unknown). */
    public static MicroVm running(ActorRef<Vm.Command> vm, VmConfig config) {
        MicroVm m = new MicroVm(config == null ? "vm" : config.name(), config == null ? null : config.dataDir(), null);
        m.vm = vm;
        if (config != null) {
            m.bootSource = new BootSource(config.kernel().toString(), config.cmdline(), config.initrd() == null ? null : config.initrd().toString());
            m.machine = new MachineConfig(config.cpus(), (int) (config.memory() >> 20), false, true, null, null);
        }
        return m;
    }

    String id() {
        return id;
    }

    Path dataDir() {
        return dataDir;
    }

    /** The running VM; NotAllowed before InstanceStart (or a snapshot load). */
    synchronized ActorRef<Vm.Command> vm() {
        if (vm == null) throw new NotAllowed("the microVM is not started yet (PUT /actions {\"action_type\": \"InstanceStart\"})");
        return vm;
    }

    synchronized boolean started() {
        return vm != null;
    }

    /** When the running VM started (or was restored), or null. */
    synchronized java.time.Instant startedAt() {
        return startedAt;
    }

    /**
     * Restore from here: stops the VM this instance runs (through {@code stop}), then starts it
     * again from {@code snapshotId}, one of its own snapshots, configured as it was launched.
     */
    CompletionStage<Void> restoreInPlace(String snapshotId, java.util.function.Function<ActorRef<Vm.Command>, CompletionStage<?>> stop) {
        ActorRef<Vm.Command> old;
        VmConfig c;
        synchronized (this) {
            if (starting) throw new NotAllowed("the microVM is starting: restore it once it runs");
            if (launchedConfig == null) throw new NotAllowed("the microVM has not run yet: it has no snapshots to restore");
            old = vm;
            c = launchedConfig;
            starting = true;
        }
        CompletionStage<?> stopped = old == null ? CompletableFuture.completedFuture(null) : stop.apply(old);
        return stopped.thenCompose(x -> {
            synchronized (this) {
                vm = null;
            }
            return launch(Vm.restore(c, snapshotId, false, io.actorvm.devices.HostSources.system()), c, false);
        }).whenComplete((ok, failure) -> {
            if (failure != null) {
                synchronized (this) {
                    starting = false;
                }
            }
        });
    }

    private void requirePreBoot(String what) {
        if (vm != null || starting) throw new NotAllowed(what + " is only allowed before the microVM starts");
    }

    synchronized void setBootSource(BootSource b) {
        requirePreBoot("PUT /boot-source");
        String kernel = FirecrackerModel.require(b.kernelImagePath(), "kernel_image_path", "a boot source");
        requireReadableFile(kernel, "kernel_image_path");
        if (b.initrdPath() != null) requireReadableFile(b.initrdPath(), "initrd_path");
        bootSource = b;
        configured = true;
    }

    synchronized MachineConfig machineConfig() {
        return machine;
    }

    /** PUT replaces the machine configuration (both counts required); PATCH ({@code partial}) changes the fields given. */
    synchronized void setMachineConfig(MachineConfig m, boolean partial) {
        requirePreBoot((partial ? "PATCH" : "PUT") + " /machine-config");
        if (!partial) {
            FirecrackerModel.require(m.vcpuCount(), "vcpu_count", "a machine configuration");
            FirecrackerModel.require(m.memSizeMib(), "mem_size_mib", "a machine configuration");
        }
        MachineConfig next = new MachineConfig(or(m.vcpuCount(), machine.vcpuCount()), or(m.memSizeMib(), machine.memSizeMib()),
                partial ? or(m.smt(), machine.smt()) : or(m.smt(), false), partial ? or(m.trackDirtyPages(), machine.trackDirtyPages()) : or(m.trackDirtyPages(), false),
                partial ? or(m.cpuTemplate(), machine.cpuTemplate()) : m.cpuTemplate(), partial ? or(m.hugePages(), machine.hugePages()) : m.hugePages());
        if (next.vcpuCount() < 1 || next.vcpuCount() > VmConfig.MAX_CPUS) {
            throw new IllegalArgumentException("vcpu_count must be between 1 and " + VmConfig.MAX_CPUS + ", not " + next.vcpuCount());
        }
        if (next.memSizeMib() < 2) throw new IllegalArgumentException("mem_size_mib must be at least 2, not " + next.memSizeMib());
        if (Boolean.TRUE.equals(next.smt())) throw new IllegalArgumentException("smt is not supported by actorvm (each vCPU is one core)");
        if (next.cpuTemplate() != null && !next.cpuTemplate().equals("None")) {
            throw new IllegalArgumentException("cpu_template " + next.cpuTemplate() + " is not supported by actorvm (use \"None\")");
        }
        if (next.hugePages() != null && !next.hugePages().equals("None") && !next.hugePages().equals("2M")) {
            throw new IllegalArgumentException("huge_pages " + next.hugePages() + " is not supported (use \"None\" or \"2M\")");
        }
        if ("2M".equals(next.hugePages()) && next.memSizeMib() % 2 != 0) {
            throw new IllegalArgumentException("with huge_pages \"2M\" mem_size_mib must be a multiple of 2, not " + next.memSizeMib());
        }
        machine = next;
        configured = true;
    }

    synchronized void putDrive(String pathId, Drive d) {
        requirePreBoot("PUT /drives");
        requireSameId(pathId, d.driveId(), "drive_id");
        String path = FirecrackerModel.require(d.pathOnHost(), "path_on_host", "a drive");
        boolean root = FirecrackerModel.require(d.isRootDevice(), "is_root_device", "a drive");
        if (d.socket() != null) throw new IllegalArgumentException("vhost-user drives (socket) are not supported by actorvm");
        if (d.rateLimiter() != null) throw new IllegalArgumentException("drive rate limiters are not supported by actorvm yet");
        if (d.cacheType() != null && !List.of("Unsafe", "Writeback").contains(d.cacheType())) {
            throw new IllegalArgumentException("cache_type must be \"Unsafe\" or \"Writeback\", not \"" + d.cacheType() + "\"");
        }
        if (d.ioEngine() != null && !List.of("Sync", "Async").contains(d.ioEngine())) {
            throw new IllegalArgumentException("io_engine must be \"Sync\" or \"Async\", not \"" + d.ioEngine() + "\"");
        }
        if (root) {
            for (Drive other : drives.values()) {
                if (Boolean.TRUE.equals(other.isRootDevice()) && !other.driveId().equals(pathId)) {
                    throw new IllegalArgumentException("drive " + other.driveId() + " is already the root device");
                }
            }
        }
        requireReadableFile(path, "path_on_host");
        try {
            io.actorvm.devices.virtio.blk.DiskImage.open(Path.of(path), Boolean.TRUE.equals(d.isReadOnly())).close();
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("drive " + pathId + ": " + e.getMessage());
        }
        drives.put(pathId, d);
        configured = true;
    }

    synchronized void putNetworkInterface(String pathId, NetworkInterface n) {
        requirePreBoot("PUT /network-interfaces");
        requireSameId(pathId, n.ifaceId(), "iface_id");
        if (n.hostDevName() != null && n.vswitch() != null) {
            throw new IllegalArgumentException("a network interface has 'host_dev_name' (a tap device) or 'switch', not both");
        }
        if (n.vswitch() == null) FirecrackerModel.require(n.hostDevName(), "host_dev_name", "a network interface");
        if (n.rxRateLimiter() != null || n.txRateLimiter() != null) {
            throw new IllegalArgumentException("network rate limiters are not supported by actorvm yet");
        }
        netConfig(n); // validates the device or switch name and the MAC
        nets.put(pathId, n);
        configured = true;
    }

    synchronized void setEntropy(EntropyDevice e) {
        requirePreBoot("PUT /entropy");
        if (e.rateLimiter() != null) throw new IllegalArgumentException("entropy rate limiters are not supported by actorvm yet");
        entropy = e;
        configured = true;
    }

    synchronized void setLogger(FirecrackerModel.Logger l) {
        logger = l;
    }

    synchronized void setMetrics(FirecrackerModel.Metrics m) {
        if (metrics != null) throw new IllegalArgumentException("metrics are already configured (to " + metrics.metricsPath() + ")");
        metrics = m;
    }

    synchronized FirecrackerModel.Metrics metrics() {
        return metrics;
    }

    synchronized FirecrackerModel.FullVmConfiguration fullConfiguration() {
        return new FirecrackerModel.FullVmConfiguration(bootSource, machine, List.copyOf(drives.values()), List.copyOf(nets.values()),
                entropy, logger, metrics, null, null, null);
    }

    /**
     * What InstanceStart boots: the boot source, machine configuration, drives (the root device
     * first, as /dev/vda, with {@code root=} added to the command line as Firecracker adds it),
     * network interfaces on tap devices, entropy as virtio-rng.
     */
    synchronized VmConfig vmConfig() {
        if (bootSource == null) throw new NotAllowed("InstanceStart needs a boot source first (PUT /boot-source)");
        List<Drive> ordered = new ArrayList<>();
        drives.values().stream().filter(d -> d.isRootDevice()).forEach(ordered::add);
        drives.values().stream().filter(d -> !d.isRootDevice()).forEach(ordered::add);
        String cmdline = bootSource.bootArgs() == null ? DEFAULT_BOOT_ARGS : bootSource.bootArgs();
        for (Drive d : ordered) {
            if (d.isRootDevice()) {
                String root = d.partuuid() != null ? "root=PARTUUID=" + d.partuuid() : "root=/dev/vda";
                cmdline = insertBeforeInitArgs(cmdline, root + (Boolean.TRUE.equals(d.isReadOnly()) ? " ro" : " rw"));
            }
        }
        return new VmConfig(id, Path.of(bootSource.kernelImagePath()), cmdline, (long) machine.memSizeMib() << 20, machine.vcpuCount(),
                bootSource.initrdPath() == null ? null : Path.of(bootSource.initrdPath()), java.util.Set.of(),
                ordered.stream().map(d -> new DiskConfig(Path.of(d.pathOnHost()), Boolean.TRUE.equals(d.isReadOnly()))).toList(),
                entropy != null, nets.values().stream().map(MicroVm::netConfig).toList(), dataDir,
                "2M".equals(machine.hugePages()) ? io.actorvm.mmu.HugePages.HUGETLB_2M : io.actorvm.mmu.HugePages.NONE);
    }

    /** Kernel parameters go before a {@code --}, whose words are the init's. */
    static String insertBeforeInitArgs(String cmdline, String params) {
        int dashes = (" " + cmdline + " ").indexOf(" -- ");
        if (dashes < 0) return cmdline.isBlank() ? params : cmdline + " " + params;
        return (cmdline.substring(0, dashes).strip() + " " + params + " " + cmdline.substring(dashes).strip()).strip();
    }

    /**
     * InstanceStart: builds the VM from the configuration and starts it. The launch runs on
     * {@code blocking}: it reads the kernel and opens /dev/kvm, which an HTTP thread must not wait for.
     */
    CompletionStage<Void> start(java.util.concurrent.Executor blocking) {
        VmConfig c;
        synchronized (this) {
            requirePreBoot("InstanceStart");
            c = vmConfig();
            starting = true;
        }
        return CompletableFuture.supplyAsync(() -> c, blocking).thenCompose(cfg -> launch(Vm.create(cfg), cfg, true));
    }

    /**
     * PUT /snapshot/load: allowed only on an instance nothing was configured on; {@code restore}
     * gives the behavior and configuration of the restored VM once the files are imported.
     */
    CompletionStage<Void> load(java.util.function.Supplier<Map.Entry<Behavior<Vm.Command>, VmConfig>> restore,
                               java.util.concurrent.Executor blocking) {
        synchronized (this) {
            requirePreBoot("PUT /snapshot/load");
            if (configured) throw new NotAllowed("PUT /snapshot/load is only allowed before any other configuration of the microVM");
            starting = true;
        }
        return CompletableFuture.supplyAsync(restore, blocking).thenCompose(r -> launch(r.getKey(), r.getValue(), false))
                .whenComplete((ok, failure) -> {
                    if (failure != null) {
                        synchronized (this) {
                            starting = false;
                        }
                    }
                });
    }

    private CompletionStage<Void> launch(Behavior<Vm.Command> behavior, VmConfig c, boolean checkKernel) {
        CompletionStage<ActorRef<Vm.Command>> launched;
        try {
            launched = launcher.launch(behavior, c, checkKernel);
        } catch (RuntimeException e) {
            launched = CompletableFuture.failedFuture(e);
        }
        return launched.handle((ref, failure) -> {
            synchronized (this) {
                starting = false;
                if (failure != null) {
                    throw failure instanceof java.util.concurrent.CompletionException ce ? ce : new java.util.concurrent.CompletionException(failure);
                }
                vm = ref;
                startedAt = java.time.Instant.now();
                launchedConfig = c;
                return null;
            }
        });
    }

    private static NetConfig netConfig(NetworkInterface n) {
        String where = n.vswitch() != null ? "switch=" + n.vswitch() : "tap=" + n.hostDevName();
        if (where.contains(",")) throw new IllegalArgumentException("bad network interface '" + where + "' (a name has no commas)");
        return NetConfig.parse(where + (n.guestMac() == null ? "" : ",mac=" + n.guestMac()));
    }

    private static void requireSameId(String pathId, String bodyId, String field) {
        if (bodyId == null) throw new IllegalArgumentException("the request body needs '" + field + "'");
        if (!pathId.equals(bodyId)) throw new IllegalArgumentException("the " + field + " of the body (" + bodyId + ") is not the one of the path (" + pathId + ")");
    }

    private static void requireReadableFile(String path, String field) {
        if (!Files.isRegularFile(Path.of(path)) || !Files.isReadable(Path.of(path))) {
            throw new IllegalArgumentException(field + " " + path + " is not a readable file");
        }
    }

    private static <T> T or(T value, T otherwise) {
        return value != null ? value : otherwise;
    }
}
