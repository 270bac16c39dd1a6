package io.actorvm.vmm.actors.device;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * Where a device actor answers a guest read. The vCPU that made the read waits at the other end
 * (see {@code io.ReplyChannel}); reads are numbered per vCPU so that a late answer to a read the
 * vCPU gave up on is dropped rather than taken for the answer to the next one.
 */
@FunctionalInterface
public interface ReadReply {
    void answer(long ticket, long value);

    /** Answers as a {@link DeviceActor.ReadResult} message, for callers that are actors (tests, tools). */
    static ReadReply to(ActorRef<DeviceActor.ReadResult> replyTo) {
        return (ticket, value) -> replyTo.tell(new DeviceActor.ReadResult(value));
    }
}
