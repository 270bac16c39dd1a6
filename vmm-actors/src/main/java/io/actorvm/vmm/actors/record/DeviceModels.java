package io.actorvm.vmm.actors.record;

import com.google.protobuf.ByteString;
import io.actorvm.boot.acpi.AcpiTables;
import io.actorvm.devices.BusDevice;
import io.actorvm.devices.InterruptLine;
import io.actorvm.devices.VmControl;
import io.actorvm.devices.acpi.AcpiSleepControl;
import io.actorvm.devices.debug.DebugExit;
import io.actorvm.devices.debug.PostCodePort;
import io.actorvm.devices.i8042.I8042;
import io.actorvm.devices.proto.LoggedDevice;
import io.actorvm.devices.rtc.CmosRtc;
import io.actorvm.devices.serial.Serial16550;
import io.actorvm.devices.serial.SerialOutput;
import io.actorvm.devices.virtio.VirtioDevice;
import io.actorvm.devices.virtio.blk.VirtioBlock;
import io.actorvm.devices.virtio.net.VirtioNet;
import io.actorvm.io.buffering.IoRange;

import java.time.Clock;
import java.util.List;

/**
 * The device models of a VM, built one way for the VM and for a replay of its recording: the PC
 * devices every VM has (in the order a VM attaches them), the names virtio devices get, and how a
 * recording describes each model so a replay can build it again.
 */
public final class DeviceModels {
    private DeviceModels() {}

    /** A PC device and the ports it answers. */
    public record Pc(BusDevice model, IoRange ports) {}

    /** The UART (first), keyboard controller, debug exit, POST code port, CMOS RTC and ACPI sleep control. */
    public static List<Pc> pc(SerialOutput console, InterruptLine serialIrq, InterruptLine keyboardIrq, VmControl control, Clock clock) {
        return List.of(
                new Pc(new Serial16550(console, serialIrq), new IoRange(Serial16550.COM1_PORT, Serial16550.PORT_COUNT)),
                new Pc(new I8042(control, keyboardIrq), new IoRange(I8042.BASE_PORT, I8042.PORT_COUNT)),
                new Pc(new DebugExit(control), new IoRange(DebugExit.DEFAULT_PORT, 1)),
                new Pc(new PostCodePort(), new IoRange(PostCodePort.PORT, 1)),
                new Pc(new CmosRtc(clock), new IoRange(CmosRtc.BASE_PORT, CmosRtc.PORT_COUNT)),
                new Pc(new AcpiSleepControl(control, AcpiTables.S5_SLEEP_TYPE, AcpiTables.RESET_VALUE),
                        new IoRange(AcpiTables.SLEEP_CONTROL_PORT, 1)));
    }

    /** The serial number of the {@code index}th disk. */
    public static String diskId(int index) {
        return "actorvm-disk" + index;
    }

    /** The name of the virtio device in slot {@code slot} (its transport's actor and device name). */
    public static String virtioName(VirtioDevice model, int slot) {
        return model.name() + "-" + slot;
    }

    static final String PC = "pc";

    /** How a recording describes a PC device. */
    public static LoggedDevice logged(BusDevice pc) {
        return LoggedDevice.newBuilder().setName(pc.name()).setKind(PC).build();
    }

    /** How a recording describes virtio device {@code model} in slot {@code slot}. */
    public static LoggedDevice logged(VirtioDevice model, int slot) {
        LoggedDevice.Builder b = LoggedDevice.newBuilder().setName(virtioName(model, slot)).setKind(model.name());
        switch (model) {
            case VirtioBlock blk -> b.setDiskId(blk.id()).setReadOnly(blk.disk().readOnly()).setDiskBytes(blk.disk().size())
                    .setDiskPath(String.valueOf(blk.disk().path()));
            case VirtioNet net -> b.setMac(ByteString.copyFrom(net.mac()));
            default -> {}
        }
        return b.build();
    }
}
