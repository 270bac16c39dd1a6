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
 * {@code guest symbols} makes gdb's symbol file of it. The guest, copying /dev/zero to /dev/null a
 * byte at a time with dd, is snapshotted; {@code replay --at} that snapshot under gdb reads
 * {@code linux_banner} and disassembles {@code start_kernel} through the kernel's page tables by
 * symbol, names the vCPU as a thread, breaks in the read(2) handler twice (the guest runs on
 * between the two hits), and single-steps.
 *
 * <p>In the KVM host CI has (KVM nested under QEMU's TCG) int3 and debug-register breakpoints
 * never reach KVM ({@code --gdb-step-breakpoints}): a breakpoint in kernel code is planted as a
 * one-byte {@code out dx, al} whose port exit stops the vCPU there. Stepping alone never reached
 * one (a {@code syscall} clears TF and is not trapped; tried: {@code arch_cpu_idle},
 * {@code schedule_idle}, {@code __x64_sys_read}, {@code __x64_sys_openat}).
 */
class LinuxGdbTest {
    @TempDir
    Path dir;

    @Test
    void gdbReadsAndStepsALinuxKernelBySymbol() throws Exception {
        GuestRun.assumeKvm();
        GuestRun.assumeHardwareVirtualization("Linux under gdb");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/gdb")), "no gdb on this host (Debian's gdb package)");
        GuestRun.assume(Files.isExecutable(Path.of("/usr/bin/apt-get")), "no apt-get on this host: cannot assemble the Debian guest");
        GuestImage guest = GuestImage.build(GuestImage.DEFAULT_KERNEL_PACKAGE, Optional.empty(), line -> System.out.println("guest build: " + line));
        Path data = dir.resolve("data");
        Path scratch = Files.write(dir.resolve("kallsyms.img"), new byte[16 << 20]);
        // Then one process copying single bytes from /dev/zero to /dev/null: a read(2) every few
        // hundred instructions, no fork, no memory growth.
        String script = "cat /proc/kallsyms > /dev/vda && sync && echo kallsyms-written && exec dd if=/dev/zero of=/dev/null bs=1";
        VmConfig config = new VmConfig("linux-gdb", guest.vmlinux(), GuestImage.CMDLINE + " quiet -- " + LinuxBootTest.sh(script),
                LinuxBootTest.MEMORY, 1).withInitrd(guest.initramfs()).withDisks(List.of(new DiskConfig(scratch, false))).withDataDir(data);

        String snapshot, firstRun;
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
            String text = console.text();
            firstRun = "\nthe first run's console (end):\n" + text.substring(Math.max(0, text.length() - 2000));
        } finally {
            kit.shutdownTestKit(); // the replay below opens the journal
        }

        Path symbols = dir.resolve("vmlinux.sym");
        CliTest.Result made = CliTest.actorvm("guest", "symbols", scratch.toString(), symbols.toString());
        assertEquals(0, made.status(), made.err());
        Matcher count = Pattern.compile("(\\d+) kernel symbols").matcher(made.out());
        assertTrue(count.find() && Long.parseLong(count.group(1)) > 10_000, made.out());

        String out = GdbReplay.session(dir, data, "linux-gdb", snapshot, List.of("symbol-file " + symbols),
                List.of("x/s &linux_banner", "info address start_kernel", "x/3i start_kernel", "info threads",
                        "break __x64_sys_read", "continue", "info symbol $pc", "continue", "info symbol $pc", "delete",
                        "print/x $pc", "stepi 3", "print/x $pc", "kill"));
        assertTrue(out.contains("<linux_banner>:\t\"Linux version 6."), "linux_banner read by symbol through the kernel's page tables:\n" + out + firstRun);
        assertTrue(Pattern.compile("Symbol \"start_kernel\" is at 0xffffffff[0-9a-f]+ ").matcher(out).find(), out);
        assertTrue(Pattern.compile("(?m)^\\s+0xffffffff[0-9a-f]+ <start_kernel\\+\\d+>:\\s+\\S").matcher(out).find(),
                "start_kernel disassembled from guest memory:\n" + out);
        assertTrue(out.contains("Thread 1 (vCPU 0)"), out);
        // The read(2) handler, reached twice: gdb stepped over its own breakpoint and the guest ran on to the next read.
        Matcher hits = Pattern.compile("Breakpoint 1, (0xffffffff[0-9a-f]+) in __x64_sys_read \\(\\)").matcher(out);
        assertTrue(hits.find() && hits.find(), "two stops at the breakpoint in __x64_sys_read:\n" + out + firstRun);
        assertEquals(2, Pattern.compile("(?m)^__x64_sys_read in section ").matcher(out).results().count(), out);
        Matcher pcs = Pattern.compile("(?m)^\\$\\d+ = (0x[0-9a-f]+)$").matcher(out);
        assertTrue(pcs.find(), out);
        String before = pcs.group(1);
        assertTrue(pcs.find() && !pcs.group(1).equals(before), "a single-step moved the pc:\n" + out);
    }
}
