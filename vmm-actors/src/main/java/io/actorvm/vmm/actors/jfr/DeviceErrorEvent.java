package io.actorvm.vmm.actors.jfr;

import jdk.jfr.Category;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * A device that entered its error state (its host side or its rings could not go on with what the
 * guest gave them) or whose model threw and was restarted. Not budgeted like the log lines: a
 * recording keeps every one.
 */
@Name("actorvm.DeviceError")
@Label("Device Error")
@Category({"actorvm", "Devices"})
@StackTrace(false)
public final class DeviceErrorEvent extends Event {
    @Label("Device")
    public String device;

    @Label("Reason")
    public String reason;

    public static void record(String device, String reason) {
        DeviceErrorEvent e = new DeviceErrorEvent();
        if (!e.isEnabled()) return;
        e.device = device;
        e.reason = reason;
        e.commit();
    }
}
