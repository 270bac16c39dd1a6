package io.actorvm.control.cli;

import io.actorvm.control.api.ApiEndpoint;
import io.actorvm.kvm.VcpuState;
import io.actorvm.mmu.GuestAddress;
import io.actorvm.persistence.SnapshotException;
import io.actorvm.vmm.actors.snapshot.SnapshotInspection;
import io.actorvm.vmm.actors.snapshot.SnapshotStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code actorvm inspect --data-dir DIR [--snapshot ID] regs|mem|devices|queues}: a stored snapshot in
 * readable form, without KVM and without running anything: registers, RAM by physical or virtual
 * address (hex dump), device states, virtqueues. {@code inspect --api-sock PATH regs|mem}: the
 * same of a paused running VM (a {@code replay}, or one paused through its API), through the
 * API's {@code /debug} routes.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a stored snapshot: vCPU registers (regs), memory (mem ADDR LEN [--virtual]), device states (devices) "
                + "or virtqueues with their pending chains (queues). No KVM needed. With --api-sock (or --api) instead of "
                + "--data-dir: regs and mem of a paused running VM.",
        subcommands = {InspectCommand.Regs.class, InspectCommand.Mem.class, InspectCommand.Devices.class, InspectCommand.Queues.class})
final class InspectCommand implements Runnable {
    @Option(names = "--data-dir", paramLabel = "DIR", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "where the snapshots are stored") Path dataDir;
    @picocli.CommandLine.Mixin ApiOptions api;
    @Option(names = "--snapshot", paramLabel = "ID", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "the snapshot (default: the newest of --name)") String snapshot;
    @Option(names = "--name", defaultValue = "vm", paramLabel = "VM", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "whose newest snapshot, without --snapshot (default ${DEFAULT-VALUE})") String name;

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    /** Something to print from an open snapshot. */
    interface Shown {
        void show(SnapshotInspection s) throws Exception;
    }

    /** Something to print from a paused running VM's API. */
    interface ShownLive {
        void show(LiveVm vm) throws IOException, InterruptedException, LiveVm.Refused;
    }

    /**
     * Prints what {@code stored} makes of the snapshot asked for, or with an API endpoint what
     * {@code live} makes of the running VM ({@code live} null: not available there); one-line errors.
     */
    int inspect(Shown stored, ShownLive live, String what) {
        ApiEndpoint endpoint;
        try {
            endpoint = api.endpoint();
        } catch (IllegalArgumentException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        }
        if (endpoint != null && dataDir != null) {
            System.err.println("actorvm: give --data-dir (a stored snapshot) or --api-sock/--api (a paused running VM), not both");
            return Main.USAGE_ERROR;
        }
        if (endpoint == null) {
            if (dataDir == null) {
                System.err.println("actorvm: say what to inspect: --data-dir DIR (a stored snapshot) or --api-sock PATH (a paused running VM)");
                return Main.USAGE_ERROR;
            }
            return inspect(stored);
        }
        if (live == null) {
            System.err.println("actorvm: " + what + " of a running VM: take a snapshot (actorvm snapshot) and inspect it with --data-dir");
            return Main.USAGE_ERROR;
        }
        return LiveVm.with(endpoint, api.token(), vm -> {
            live.show(vm);
            return 0;
        });
    }

    /** Opens the snapshot asked for and prints what {@code shown} makes of it; one-line errors. */
    int inspect(Shown shown) {
        if (!Files.isDirectory(dataDir)) {
            System.err.println("actorvm: data directory " + dataDir + " does not exist");
            return Main.USAGE_ERROR;
        }
        SnapshotStore store = SnapshotStore.open(dataDir);
        String id = snapshot != null ? snapshot : newest(store, name);
        if (id == null) {
            System.err.println("actorvm: " + dataDir + " holds no snapshot of VM '" + name + "'");
            return Main.USAGE_ERROR;
        }
        try (SnapshotInspection s = SnapshotInspection.open(store, id)) {
            shown.show(s);
            return 0;
        } catch (SnapshotException | IllegalArgumentException | io.actorvm.mmu.GuestMemoryException | io.actorvm.mmu.paging.PageFaultException e) {
            System.err.println("actorvm: " + e.getMessage());
            return Main.USAGE_ERROR;
        } catch (Exception e) {
            System.err.println("actorvm: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        }
    }

    /** The newest snapshot of VM {@code name} (ids sort by time), or null. */
    static String newest(SnapshotStore store, String name) {
        return store.manifests().list().stream().filter(id -> store.manifests().read(id).getVmName().equals(name))
                .max(String::compareTo).orElse(null);
    }

    @Command(name = "regs", mixinStandardHelpOptions = true, description = "Each vCPU's registers (or one with --cpu).")
    static final class Regs implements Callable<Integer> {
        @ParentCommand InspectCommand parent;
        @Option(names = "--cpu", paramLabel = "N", description = "only this vCPU") Integer cpu;

        @Override
        public Integer call() {
            return parent.inspect(s -> {
                System.out.println("snapshot " + s.manifest().getSnapshotId() + " of " + s.manifest().getVmName());
                for (int i = 0; i < s.vcpuCount(); i++) {
                    if (cpu != null && cpu != i) continue;
                    VcpuState v = s.vcpu(i);
                    System.out.println("vcpu " + i + ":");
                    SnapshotInspection.describe(v.regs(), v.sregs()).forEach(l -> System.out.println("  " + l));
                }
                if (cpu != null && (cpu < 0 || cpu >= s.vcpuCount())) throw new IllegalArgumentException("the snapshot has no vCPU " + cpu);
            }, vm -> {
                // Without --cpu: every vCPU, asked one after another until the VM has no more.
                for (int i = cpu == null ? 0 : cpu; cpu == null || i == cpu; i++) {
                    List<String> lines = vm.registers(i, cpu == null && i > 0);
                    if (lines == null) break;
                    System.out.println("vcpu " + i + ":");
                    lines.forEach(l -> System.out.println("  " + l));
                }
            }, "regs");
        }
    }

    @Command(name = "mem", mixinStandardHelpOptions = true,
            description = "Hex dump of LEN bytes at ADDR: guest-physical, or virtual through a vCPU's page tables with --virtual.")
    static final class Mem implements Callable<Integer> {
        @ParentCommand InspectCommand parent;
        @Parameters(index = "0", paramLabel = "ADDR", description = "address, e.g. 0x1000") String address;
        @Parameters(index = "1", paramLabel = "LEN", defaultValue = "256", description = "bytes (default ${DEFAULT-VALUE}, at most 1 MiB)") int length;
        @Option(names = "--virtual", description = "ADDR is virtual: translated by the page tables of --cpu") boolean virtual;
        @Option(names = "--cpu", paramLabel = "N", defaultValue = "0", description = "whose page tables (default ${DEFAULT-VALUE})") int cpu;

        /** ADDR, once LEN is checked too (both sides, stored or live, take the same arguments). */
        private long checkedAddress() {
            if (length <= 0 || length > (1 << 20)) throw new IllegalArgumentException("LEN must be between 1 and 1048576, not " + length);
            return GuestAddress.parse(address).value();
        }

        @Override
        public Integer call() {
            return parent.inspect(s -> {
                long addr = checkedAddress();
                if (virtual && (cpu < 0 || cpu >= s.vcpuCount())) throw new IllegalArgumentException("the snapshot has no vCPU " + cpu);
                byte[] bytes = virtual ? s.readVirtual(cpu, addr, length) : s.readPhysical(addr, length);
                System.out.print(hexDump(addr, bytes));
            }, vm -> {
                long addr = checkedAddress();
                System.out.print(hexDump(addr, vm.memory(addr, length, virtual, cpu)));
            }, "mem");
        }
    }

    @Command(name = "devices", mixinStandardHelpOptions = true, description = "Each device's state.")
    static final class Devices implements Callable<Integer> {
        @ParentCommand InspectCommand parent;

        @Override
        public Integer call() {
            return parent.inspect(s -> {
                for (Map.Entry<String, Record> d : s.devices().entrySet()) System.out.println(d.getKey() + ": " + d.getValue());
            }, null, "device states");
        }
    }

    @Command(name = "queues", mixinStandardHelpOptions = true,
            description = "Each virtio queue: its indices and the chains the driver made available that the device had not taken.")
    static final class Queues implements Callable<Integer> {
        @ParentCommand InspectCommand parent;

        @Override
        public Integer call() {
            return parent.inspect(s -> {
                List<String> lines = s.queues();
                if (lines.isEmpty()) System.out.println("the snapshot has no virtio devices");
                lines.forEach(System.out::println);
            }, null, "virtqueues");
        }
    }

    /** 16 bytes a line: address, hex, and the printable ASCII. */
    static String hexDump(long address, byte[] bytes) {
        StringBuilder b = new StringBuilder();
        for (int off = 0; off < bytes.length; off += 16) {
            b.append(String.format("%016x ", address + off));
            StringBuilder ascii = new StringBuilder();
            for (int i = 0; i < 16; i++) {
                if (off + i < bytes.length) {
                    int v = bytes[off + i] & 0xFF;
                    b.append(String.format(" %02x", v));
                    ascii.append(v >= 0x20 && v < 0x7F ? (char) v : '.');
                } else {
                    b.append("   ");
                }
                if (i == 7) b.append(' ');
            }
            b.append("  |").append(ascii).append("|\n");
        }
        return b.toString();
    }
}
