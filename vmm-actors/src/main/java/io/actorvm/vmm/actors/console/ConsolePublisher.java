package io.actorvm.vmm.actors.console;

import io.actorvm.devices.serial.SerialOutput;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.Arrays;

/**
 * The UART's host side: the bytes the guest transmits are gathered while its device actor handles
 * a run of writes and published to the VM's {@link ConsoleHub} as one chunk when the actor flushes
 * (a {@code rep outsb} of a page is one message, not 4096). Never blocks the device: a slow
 * terminal slows only its own subscriber. Used by the UART's actor only, so not thread-safe.
 */
public final class ConsolePublisher implements SerialOutput {
    /** Largest chunk: longer runs go out in pieces of this size. */
    static final int CHUNK = 4096;

    private final ActorRef<ConsoleHub.Command> hub;
    private final byte[] pending = new byte[CHUNK];
    private int length;

    public ConsolePublisher(ActorRef<ConsoleHub.Command> hub) {
        this.hub = hub;
    }

    @Override
    public void transmit(byte b) {
        pending[length++] = b;
        if (length == CHUNK) flush();
    }

    @Override
    public void flush() {
        if (length == 0) return;
        hub.tell(new ConsoleHub.Publish(Arrays.copyOf(pending, length)));
        length = 0;
    }
}
