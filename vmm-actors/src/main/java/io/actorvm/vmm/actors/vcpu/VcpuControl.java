package io.actorvm.vmm.actors.vcpu;

/**
 * What the vCPU thread should do next, set by its actor. The thread checks it between KVM_RUN
 * calls; the actor kicks the vCPU out of KVM_RUN after changing it.
 */
final class VcpuControl {
    enum Target { RUN, PAUSE, STOP }

    private Target target = Target.RUN;

    synchronized boolean pauseRequested() {
        return target == Target.PAUSE;
    }

    synchronized void request(Target t) {
        if (target == Target.STOP) return; // stopping is final
        target = t;
        notifyAll();
    }

    /**
     * Blocks while paused (calling {@code onPaused} once when the pause begins). Returns true when
     * the vCPU should run, false when it should stop.
     */
    synchronized boolean awaitRunnable(Runnable onPaused) throws InterruptedException {
        boolean announced = false;
        while (target == Target.PAUSE) {
            if (!announced) {
                onPaused.run();
                announced = true;
            }
            try {
                wait();
            } catch (InterruptedException e) {
                // Stop interrupts the thread after requesting STOP (to end a wait for a device):
                // a paused vCPU told to stop then leaves normally, not as a failure.
                if (target != Target.STOP) throw e;
            }
        }
        return target == Target.RUN;
    }
}
