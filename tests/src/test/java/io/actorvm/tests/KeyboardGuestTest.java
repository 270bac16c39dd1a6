package io.actorvm.tests;

import io.actorvm.vmm.actors.Vm;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The i8042's keyboard as a driver sees it: the keyboard guest resets and identifies it by
 * polling, then sleeps in HLT with IRQ 1 open; {@link Vm.SendCtrlAltDel} (Firecracker's
 * SendCtrlAltDel) must wake it once per byte with Ctrl+Alt+Del in scan code set 1.
 */
class KeyboardGuestTest extends ActorTestSupport {

    @Test
    void ctrlAltDelReachesAnInterruptDrivenGuestTranslated() {
        GuestRun.assumeKvm();
        GuestRun run = new GuestRun(kit, "keyboard", "", 16L << 20, 1);
        run.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> run.console.text().contains("keyboard ready\n")
                || run.console.text().contains("keyboard:"));
        assertTrue(run.console.text().contains("keyboard ready\n"), run.console.text());
        TestProbe<StatusReply<Done>> sent = kit.createTestProbe();
        run.vm.tell(new Vm.SendCtrlAltDel(sent.getRef()));
        assertTrue(sent.receiveMessage(Duration.ofSeconds(10)).isSuccess());
        Vm.Terminated t = run.awaitTermination(Duration.ofSeconds(60));

        assertEquals(0, t.exitStatus(), t.reason() + "\n" + run.console.text());
        Matcher m = Pattern.compile("keyboard irqs=(\\d+) empty=0 codes=0x1d 0x38 0xe0 0x53 0xe0 0xd3 0xb8 0x9d\n")
                .matcher(run.console.text());
        assertTrue(m.find(), run.console.text());
        assertEquals(8, Long.parseLong(m.group(1)), "one interrupt per byte");
    }
}
