package io.actorvm.vmm.actors.console;

import io.actorvm.devices.serial.SerialOutput;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The UART's host side: each byte the guest transmits is published to the VM's {@link ConsoleHub}.
 * Never blocks the device (a slow terminal slows only its own subscriber).
 */
public record ConsolePublisher(ActorRef<ConsoleHub.Command> hub) implements SerialOutput {
    @Override
    public void transmit(byte b) {
        hub.tell(new ConsoleHub.Publish(new byte[] {b}));
    }
}
