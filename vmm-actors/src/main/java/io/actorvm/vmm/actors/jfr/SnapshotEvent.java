package io.actorvm.vmm.actors.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A snapshot of a VM, from the request to the pages and state being written (or the failure). */
@Name("actorvm.Snapshot")
@Label("VM Snapshot")
@Category({"actorvm", "State"})
@StackTrace(false)
public final class SnapshotEvent extends Event {
    @Label("VM")
    public String vm;

    @Label("Snapshot")
    public String id;

    @Label("Full")
    public boolean full;

    @Label("Pages")
    public long pages;

    @Label("Written")
    @DataAmount
    public long bytesWritten;

    @Label("Failure")
    public String failure;

    /** Starts timing a snapshot of {@code vm}. */
    public static SnapshotEvent begin(String vm, boolean full) {
        SnapshotEvent e = new SnapshotEvent();
        e.vm = vm;
        e.full = full;
        e.begin();
        return e;
    }

    public void taken(String id, boolean full, long pages, long bytesWritten) {
        this.id = id;
        this.full = full;
        this.pages = pages;
        this.bytesWritten = bytesWritten;
        commit();
    }

    public void failed(String reason) {
        failure = reason;
        commit();
    }
}
