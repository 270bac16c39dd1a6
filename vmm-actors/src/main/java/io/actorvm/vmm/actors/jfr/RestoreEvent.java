package io.actorvm.vmm.actors.jfr;

import jdk.jfr.Category;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A VM built from a snapshot: from the start request to the machine being ready to run (or the failure). */
@Name("actorvm.Restore")
@Label("VM Restore")
@Category({"actorvm", "State"})
@StackTrace(false)
public final class RestoreEvent extends Event {
    @Label("VM")
    public String vm;

    @Label("Snapshot")
    public String snapshot;

    @Label("Failure")
    public String failure;

    public static RestoreEvent begin(String vm, String snapshot) {
        RestoreEvent e = new RestoreEvent();
        e.vm = vm;
        e.snapshot = snapshot;
        e.begin();
        return e;
    }

    /** Ends the restore: {@code failure} null when it succeeded. */
    public void end(String failure) {
        this.failure = failure;
        commit();
    }
}
