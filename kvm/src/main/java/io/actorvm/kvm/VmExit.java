package io.actorvm.kvm;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * Why {@code KVM_RUN} returned, decoded from the {@code kvm_run} page into an immutable message.
 * Port and MMIO accesses carry everything a device needs; reads are completed through
 * {@link KvmRun#completePortIn} / {@link KvmRun#completeMmioRead} before the next run.
 */
public sealed interface VmExit {

    /** {@code out}/{@code outs} to an I/O port: {@code count} items of {@code size} bytes. */
    record PortOut(int port, int size, int count, byte[] data) implements VmExit {
        /** The i-th item, little-endian, zero-extended. */
        public long value(int i) {
            return littleEndian(data, i * size, size);
        }

        @Override
        public String toString() {
            return "PortOut[port=0x%x, size=%d, count=%d, data=%s]".formatted(port, size, count, HexFormat.of().formatHex(data));
        }
    }

    /** {@code in}/{@code ins} from an I/O port. */
    record PortIn(int port, int size, int count) implements VmExit {
        @Override
        public String toString() {
            return "PortIn[port=0x%x, size=%d, count=%d]".formatted(port, size, count);
        }
    }

    /** A write to guest-physical memory that no memory slot backs. */
    record MmioWrite(long address, byte[] data) implements VmExit {
        public long value() {
            return littleEndian(data, 0, data.length);
        }

        @Override
        public String toString() {
            return "MmioWrite[address=0x%x, data=%s]".formatted(address, HexFormat.of().formatHex(data));
        }
    }

    /** A read of guest-physical memory that no memory slot backs. */
    record MmioRead(long address, int length) implements VmExit {
        @Override
        public String toString() {
            return "MmioRead[address=0x%x, length=%d]".formatted(address, length);
        }
    }

    /** HLT with the irqchip in user space (with the in-kernel irqchip KVM keeps HLT to itself). */
    record Halt() implements VmExit {}

    /** Triple fault (or a shutdown the CPU entered). */
    record Shutdown() implements VmExit {}

    /** KVM_EXIT_SYSTEM_EVENT: the guest asked for shutdown, reset or reported a crash. */
    record SystemEvent(int type, long[] data) implements VmExit {
        public static final int SHUTDOWN = 1, RESET = 2, CRASH = 3;

        @Override
        public String toString() {
            String name = switch (type) {
                case SHUTDOWN -> "shutdown";
                case RESET -> "reset";
                case CRASH -> "crash";
                default -> "type " + type;
            };
            return "SystemEvent[" + name + ", data=" + Arrays.toString(data) + "]";
        }
    }

    /** KVM could not handle something (e.g. an instruction it cannot emulate). */
    record InternalError(int suberror, long[] data) implements VmExit {
        @Override
        public String toString() {
            return "InternalError[suberror=" + suberror + ", data=" + Arrays.toString(data) + "]";
        }
    }

    /** VM entry failed: the vCPU state was invalid. */
    record FailEntry(long hardwareReason, int cpu) implements VmExit {}

    /** KVM_RUN returned early: a signal kicked the vCPU or {@code immediate_exit} was set. */
    record Interrupted() implements VmExit {}

    /**
     * A debug exception with guest debugging on ({@link GuestDebug}): {@code exception} 1 (#DB:
     * single step, a hardware breakpoint or watchpoint; {@code dr6} says which) or 3 (#BP: an int3
     * the debugger planted at {@code pc}).
     */
    record Debug(int exception, long pc, long dr6, long dr7) implements VmExit {
        public static final int DB = 1, BP = 3;
    }

    /** Any exit reason we do not handle; the VM is stopped with it as the reason. */
    record Unhandled(int reason) implements VmExit {}

    private static long littleEndian(byte[] data, int offset, int size) {
        long v = 0;
        for (int i = Math.min(size, 8) - 1; i >= 0; i--) v = (v << 8) | (data[offset + i] & 0xFF);
        return v;
    }
}
