package io.actorvm.bench;

import io.actorvm.devices.proto.LoggedDevice;
import io.actorvm.devices.record.DeviceTape;
import org.openjdk.jmh.annotations.Param;

import io.actorvm.devices.BusDevice;
import io.actorvm.devices.DeviceMetrics;
import io.actorvm.io.buffering.IoBus;
import io.actorvm.io.buffering.IoRange;
import io.actorvm.kvm.VmExit;
import io.actorvm.vmm.actors.device.DeviceActor;
import io.actorvm.vmm.actors.device.DeviceBacklog;
import io.actorvm.vmm.actors.io.DeviceRef;
import io.actorvm.vmm.actors.io.ExitRouter;
import io.actorvm.vmm.actors.io.IoStats;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The exit path without KVM: what routing one port or MMIO exit to its device actor costs the
 * vCPU thread (the benchmark thread plays the vCPU), against calling the same device model
 * directly. Writes are sends into the device's bounded backlog (in steady state the vCPU runs at
 * the device actor's pace, so this is the throughput of a write-heavy exit stream); reads are a
 * round trip through the device actor and the vCPU's reply channel. Run by
 * {@code bench/exit-dispatch.sh} (with {@code -prof gc} for bytes allocated per exit).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class ExitDispatchBench {
    static final int PORT = 0x3F8 + 7; // a UART scratch register, as the exits comparison uses
    static final long MMIO = 0xD000_0000L;

    /** A scratch register: what the guest writes it reads back. */
    static final class Scratch implements BusDevice {
        private long value;

        @Override
        public String name() {
            return "scratch";
        }

        @Override
        public long read(long offset, int size) {
            return value;
        }

        @Override
        public void write(long offset, int size, long v) {
            value = v;
        }

        record Metrics() implements DeviceMetrics {}

        @Override
        public Metrics metrics() {
            return new Metrics();
        }
    }

    /** {@code on}: every device call is recorded as {@code run --record} does (to a temporary file). */
    @Param({"off", "on"})
    public String recording;

    ActorSystem<Void> system;
    ExitRouter router;
    io.actorvm.devices.record.DeviceRecorder recorder;
    java.nio.file.Path recordingFile;
    org.apache.pekko.actor.typed.ActorRef<DeviceActor.Command> portDevice;
    final Scratch direct = new Scratch();
    final VmExit.PortOut portOut = new VmExit.PortOut(PORT, 1, 1, new byte[] {0x5A});
    final VmExit.PortIn portIn = new VmExit.PortIn(PORT, 1, 1);
    final VmExit.MmioWrite mmioWrite = new VmExit.MmioWrite(MMIO, new byte[] {1, 2, 3, 4});
    final VmExit.MmioRead mmioRead = new VmExit.MmioRead(MMIO, 4);
    /** A kvm_run page as KVM fills it, for the benchmarks that decode too (the vCPU's whole user-space path). */
    io.actorvm.kvm.KvmRun pioWritePage, pioReadPage;

    @Setup(Level.Trial)
    public void setUp() {
        system = ActorSystem.create(Behaviors.empty(), "exit-dispatch");
        IoBus<DeviceRef> ports = new IoBus<>(), mmio = new IoBus<>();
        DeviceBacklog portBacklog = new DeviceBacklog(), mmioBacklog = new DeviceBacklog();
        DeviceTape portTape = DeviceTape.NONE, mmioTape = DeviceTape.NONE;
        if (recording.equals("on")) {
            try {
                recordingFile = java.nio.file.Files.createTempFile("exit-dispatch", ".avmdlog");
                java.nio.file.Files.delete(recordingFile);
                recorder = io.actorvm.devices.record.DeviceRecorder.create(recordingFile, "bench", 16L << 20);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            portTape = recorder.register(LoggedDevice.newBuilder().setName("port-scratch").setKind("pc").build());
            mmioTape = recorder.register(LoggedDevice.newBuilder().setName("mmio-scratch").setKind("pc").build());
            recorder.start();
        }
        portDevice = system.systemActorOf(DeviceActor.create(new Scratch(), portBacklog, portTape), "port-scratch", Props.empty());
        var mmioDevice = system.systemActorOf(DeviceActor.create(new Scratch(), mmioBacklog, mmioTape), "mmio-scratch", Props.empty());
        ports.register(new IoRange(PORT, 1), new DeviceRef("port-scratch", portDevice, portBacklog));
        mmio.register(new IoRange(MMIO, 0x1000), new DeviceRef("mmio-scratch", mmioDevice, mmioBacklog));
        router = new ExitRouter(ports, mmio, null, new IoStats());
        pioWritePage = pioExitPage(1);
        pioReadPage = pioExitPage(0);
    }

    /** A kvm_run page holding a one-byte PIO exit at {@link #PORT} ({@code direction} 1: out, of 0x5A). */
    static io.actorvm.kvm.KvmRun pioExitPage(int direction) {
        var page = java.lang.foreign.Arena.global().allocate(4096, 4096);
        page.set(java.lang.foreign.ValueLayout.JAVA_INT, 8, 2);              // exit_reason: KVM_EXIT_IO
        page.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 32, (byte) direction);
        page.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 33, (byte) 1);     // size
        page.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 34, (short) PORT);
        page.set(java.lang.foreign.ValueLayout.JAVA_INT, 36, 1);             // count
        page.set(java.lang.foreign.ValueLayout.JAVA_LONG, 40, 0x200);        // data_offset
        page.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0x200, (byte) 0x5A);
        return new io.actorvm.kvm.KvmRun(page);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (recorder != null) {
            recorder.close();
            System.out.println("recording: " + recorder.steps() + " steps, " + java.nio.file.Files.size(recordingFile) + " bytes");
            java.nio.file.Files.delete(recordingFile);
        }
    }

    @Benchmark
    public void directWrite() {
        direct.write(0, 1, 0x5A);
    }

    @Benchmark
    public long directRead() {
        return direct.read(0, 1);
    }

    @Benchmark
    public void pioWrite() {
        router.portOut(portOut);
    }

    @Benchmark
    public byte[] pioRead() {
        return router.portIn(portIn);
    }

    /** A read as an ask (a temporary actor, a timer, a future), the way reads went before the reply channel: for comparison. */
    @Benchmark
    public long pioReadByAsk() throws Exception {
        return org.apache.pekko.actor.typed.javadsl.AskPattern.<DeviceActor.Command, DeviceActor.ReadResult>ask(portDevice,
                        replyTo -> new DeviceActor.Read(0, 1, replyTo), java.time.Duration.ofSeconds(5), system.scheduler())
                .toCompletableFuture().get(6, TimeUnit.SECONDS).value();
    }

    /** Decoded from a kvm_run page, then routed: everything the vCPU thread does for the exit besides KVM_RUN. */
    @Benchmark
    public void pioWriteDecoded() {
        router.portOut((VmExit.PortOut) pioWritePage.decode());
    }

    /** Decoded, routed, answered and completed into the page: a whole PIO read but for KVM_RUN. */
    @Benchmark
    public void pioReadDecoded() {
        pioReadPage.completePortIn(router.portIn((VmExit.PortIn) pioReadPage.decode()));
    }

    @Benchmark
    public void mmioWrite() {
        router.mmioWrite(mmioWrite);
    }

    @Benchmark
    public byte[] mmioRead() {
        return router.mmioRead(mmioRead);
    }
}
