package io.actorvm.vmm.actors;

import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;

import java.util.ArrayList;
import java.util.List;

/**
 * How a VM ends and who waits to hear it: the first reason to end wins (a guest power-off racing
 * a stop request keeps the first), and watchers and stop callers are told once the end is
 * announced (after the journal recorded it); later watchers hear it at once.
 */
final class VmEnd {
    private final List<ActorRef<Vm.Terminated>> watchers = new ArrayList<>();
    private final List<ActorRef<StatusReply<Done>>> stopWaiters = new ArrayList<>();
    private Vm.Terminated termination;
    private boolean announced;

    /** Records why the VM ends, unless a reason was recorded already. */
    void decide(Vm.Terminated why) {
        if (termination == null) termination = why;
    }

    /** Why the VM ends, or null while it has not begun to. */
    Vm.Terminated termination() {
        return termination;
    }

    void watch(ActorRef<Vm.Terminated> watcher) {
        if (announced) watcher.tell(termination);
        else watchers.add(watcher);
    }

    /** A stop caller, acknowledged when the end is announced. */
    void awaitStop(ActorRef<StatusReply<Done>> caller) {
        if (announced) caller.tell(StatusReply.ack());
        else stopWaiters.add(caller);
    }

    /** Ends at once (a VM that never ran has nothing to stop or journal): decides and announces. */
    void endNow(Vm.Terminated why) {
        decide(why);
        announce();
    }

    void announce() {
        announced = true;
        stopWaiters.forEach(w -> w.tell(StatusReply.ack()));
        stopWaiters.clear();
        watchers.forEach(w -> w.tell(termination));
        watchers.clear();
    }
}
