package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Console input reaches the guest through the UART and its interrupt: the echo guest sleeps in
 * HLT and only an IRQ 4 (raised by our UART model through KVM's in-kernel irqchip) wakes it.
 */
class EchoGuestTest extends ActorTestSupport {

    @Test
    void inputIsEchoedByAnInterruptDrivenGuest() {
        GuestRun.assumeKvm();
        GuestRun run = new GuestRun(kit, "echo", "", 16L << 20, 1);
        run.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().contains("echo ready\n"));
        run.vm.tell(new Vm.ConsoleInput("abc".getBytes(StandardCharsets.US_ASCII)));
        await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().contains("abc"));
        run.vm.tell(new Vm.ConsoleInput("dq".getBytes(StandardCharsets.US_ASCII)));
        Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(60));

        assertEquals(0, t.exitStatus(), t.reason() + "\n" + run.console.text());
        Matcher m = Pattern.compile("echo ready\nabcd\necho irqs=(\\d+) bytes=4\n").matcher(run.console.text());
        assertTrue(m.matches(), run.console.text());
        long guestIrqs = Long.parseLong(m.group(1));
        long raised = run.stats().devices().stream().filter(d -> d.device().equals("serial")).findFirst().orElseThrow()
                .counters().get("interrupts");
        assertTrue(guestIrqs >= 2, "two separate inputs need at least two interrupts");
        assertEquals(raised, guestIrqs, "every interrupt the UART raised reached the guest");
    }
}
