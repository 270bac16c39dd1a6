package io.actorvm.tests;

import com.typesafe.config.ConfigFactory;
import io.actorvm.images.GuestImage;
import io.actorvm.images.KernelSymbols;
import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.Vm;
import io.actorvm.vmm.actors.VmConfig;
import io.actorvm.vmm.actors.journal.Journal;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real gdb against a Linux guest, with the kernel's own symbols: Debian's vmlinux is stripped
 * and its System.map a placeholder, so the booted guest writes /proc/kallsyms to a scratch disk and
 * {@code guest symbols} makes gdb's symbol file of it. The guest, its shell reading /dev/null in a
 * loop, is snapshotted; {@code replay --at} that snapshot under gdb reads {@code linux_banner}
 * through the kernel's page tables, and a breakpoint at the read(2) handler
 * {@code __x64_sys_read} stops the kernel there at the shell's next read.
 *
 * <p>Breakpoints by single-stepping ({@code --gdb-step-breakpoints}): the KVM host CI runs in
 * (KVM nested under QEMU's TCG) never delivers int3 or debug-register exceptions to KVM, and
 * stepping from boot to {@code start_kernel} would take millions of steps (the BSS clear is one
 * {@code rep stos}), so the breakpoint is a syscall handler a running shell reaches within a few
 * thousand. Steps take no interrupts ({@code KVM_GUESTDBG_BLOCKIRQ}), so stepping does not drown in
 * timer interrupts that fire faster than it steps.
 */
class LinuxGdbTest {
    @TempDir
    Path dir;

    @Test
    void gdbBreaksInTheLinuxKernelBySymbol() throws Exception {
        GuestRun.assumeKvm();
        GuestRun.assumeHardwareVirtualization("Linux under gdb");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/gdb")), "no gdb on this host (Debian's gdb package)");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/apt-get")), "no apt-get on this host: cannot assemble the Debian guest");
        GuestImage guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.out.println("guest build: " + line));
        Path data = dir.resolve("data");
        Path scratch = Files.write(dir.resolve("kallsyms.img"), new byte[16 << 20]);
        // Then a shell loop that reads /dev/null over and over: a read(2) every few thousand instructions.
        String script = "cat /proc/kallsyms > /dev/vda && sync && echo kallsyms-written && while :; do read x < /dev/null; done";
        VmConfig config = new VmConfig("linux-gdb", guest.vmlinux(), GuestImage.CMDLINE + " quiet -- " + LinuxBootTest.sh(script),
                LinuxBootTest.MEMORY, 1).withInitrd(guest.initramfs()).withDisks(List.of(new DiskConfig(scratch, false))).withDataDir(data);

        String snapshot;
        ActorTestKit kit = ActorTestKit.create("linux-gdb", Journal.openData(data).pekkoConfig().withFallback(ConfigFactory.load()));
        try {
            ActorRef<Vm.Command> vm = kit.spawn(Vm.create(config));
            GuestRun.Capture console = GuestRun.Capture.attach(kit, vm);
            TestProbe<StatusReply<Done>> done = kit.createTestProbe();
            vm.tell(new Vm.Start(done.getRef()));
            assertTrue(done.receiveMessage(Duration.ofSeconds(120)).isSuccess());
            await().atMost(LinuxBootTest.BOOT).pollInterval(Duration.ofMillis(250)).until(() -> console.text().contains("kallsyms-written"));
            Thread.sleep(1000); // into the idle loop
            TestProbe<StatusReply<Vm.SnapshotInfo>> snap = kit.createTestProbe();
            vm.tell(new Vm.TakeSnapshot(snap.getRef()));
            StatusReply<Vm.SnapshotInfo> taken = snap.receiveMessage(Duration.ofSeconds(300));
            assertTrue(taken.isSuccess(), () -> taken.getError().getMessage());
            snapshot = taken.getValue().id();
            vm.tell(new Vm.Stop("snapshot taken", done.getRef()));
            done.receiveMessage(Duration.ofSeconds(120));
        } finally {
            kit.shutdownTestKit(); // the replay below opens the journal
        }

        Path symbols = dir.resolve("vmlinux.sym");
        CliTest.Result made = CliTest.actorvm("guest", "symbols", scratch.toString(), symbols.toString());
        assertEquals(0, made.status(), made.err());
        Matcher count = Pattern.compile("(\\d+) kernel symbols").matcher(made.out());
        assertTrue(count.find() && Long.parseLong(count.group(1)) > 10_000, made.out());

        String out = GdbReplay.session(dir, data, "linux-gdb", snapshot, List.of("symbol-file " + symbols),
                List.of("info symbol $pc", "x/s &linux_banner", "info threads", "break __x64_sys_read", "continue", "info symbol $pc",
                        "x/i $pc", "delete", "kill"));
        assertTrue(out.contains("\"Linux version 6."), "linux_banner read through the kernel's page tables:\n" + out);
        assertTrue(out.contains("Breakpoint 1, 0x") && out.contains(" in __x64_sys_read ()"), "the breakpoint hit:\n" + out);
        assertTrue(Pattern.compile("(?m)^__x64_sys_read( \\+ \\d+)? in section \\.kernel$").matcher(out).find(), "stopped in the syscall handler:\n" + out);
    }
}
