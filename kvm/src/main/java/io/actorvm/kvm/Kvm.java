package io.actorvm.kvm;

import io.actorvm.libc.Libc;
import io.actorvm.libc.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** The system handle: an open {@code /dev/kvm}. */
public final class Kvm implements AutoCloseable {
    public static final Path DEVICE = Path.of("/dev/kvm");
    /** The only stable KVM API version there has ever been. */
    public static final int API_VERSION = 12;
    static final int E2BIG = 7;

    private final int fd;

    private Kvm(int fd) {
        this.fd = fd;
    }

    /**
     * Opens /dev/kvm and checks the API version.
     *
     * @throws KvmUnavailableException with a one-line reason when KVM cannot be used here
     */
    public static Kvm open() {
        if (!Files.exists(DEVICE)) throw new KvmUnavailableException(DEVICE + " does not exist (no KVM on this host)");
        int fd;
        try {
            fd = Libc.open(DEVICE.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (SyscallException e) {
            throw new KvmUnavailableException("cannot open " + DEVICE + ": " + Libc.strerror(e.errno())
                    + (e.errno() == 13 ? " (add your user to the kvm group)" : ""));
        }
        Kvm kvm = new Kvm(fd);
        int version = kvm.apiVersion();
        if (version != API_VERSION) {
            kvm.close();
            throw new KvmUnavailableException("KVM API version " + version + ", expected " + API_VERSION);
        }
        return kvm;
    }

    /** KVM_GET_API_VERSION. */
    public int apiVersion() {
        return Libc.ioctl(fd, Ioctls.KVM_GET_API_VERSION, 0L, "KVM_GET_API_VERSION");
    }

    /** KVM_CHECK_EXTENSION on the system fd: 0 if absent, otherwise a capability-specific value. */
    public int checkExtension(Capability cap) {
        return Libc.ioctl(fd, Ioctls.KVM_CHECK_EXTENSION, cap.number(), "KVM_CHECK_EXTENSION(" + cap + ")");
    }

    /** KVM_GET_VCPU_MMAP_SIZE: bytes to map from each vCPU fd (kvm_run plus the coalesced ring). */
    public int vcpuMmapSize() {
        return Libc.ioctl(fd, Ioctls.KVM_GET_VCPU_MMAP_SIZE, 0L, "KVM_GET_VCPU_MMAP_SIZE");
    }

    /** KVM_GET_SUPPORTED_CPUID: the CPUID leaves this host's KVM can give a guest. */
    public List<CpuidEntry> supportedCpuid() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = CpuidEntry.kvmCpuid2(arena);
            Libc.ioctl(fd, Ioctls.KVM_GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
            return CpuidEntry.fromKvmCpuid2(buf, buf.get(JAVA_INT, 0));
        }
    }

    /**
     * KVM_GET_MSR_INDEX_LIST: the MSRs KVM can save and restore for a guest (those the host supports
     * plus those KVM emulates). Asked twice: once with room for none, which fails with E2BIG and
     * reports the count, then with that room. MCE bank MSRs are not listed.
     */
    public List<Integer> getMsrIndexList() {
        int count;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment probe = arena.allocate(Structs.MSR_LIST);
            try {
                Libc.ioctl(fd, Ioctls.KVM_GET_MSR_INDEX_LIST, probe, "KVM_GET_MSR_INDEX_LIST");
                return List.of(); // no MSRs at all
            } catch (SyscallException e) {
                if (e.errno() != E2BIG) throw e;
            }
            count = probe.get(JAVA_INT, 0);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment list = arena.allocate(Structs.MSR_LIST.byteSize() + 4L * count, 4);
            list.set(JAVA_INT, 0, count);
            Libc.ioctl(fd, Ioctls.KVM_GET_MSR_INDEX_LIST, list, "KVM_GET_MSR_INDEX_LIST");
            int n = list.get(JAVA_INT, 0);
            List<Integer> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) out.add(list.get(JAVA_INT, Structs.MSR_LIST.byteSize() + 4L * i));
            return out;
        }
    }

    /** KVM_CREATE_VM with the default machine type. */
    public VmFd createVm() {
        int vmFd = Libc.ioctl(fd, Ioctls.KVM_CREATE_VM, 0L, "KVM_CREATE_VM");
        return new VmFd(vmFd, vcpuMmapSize());
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
