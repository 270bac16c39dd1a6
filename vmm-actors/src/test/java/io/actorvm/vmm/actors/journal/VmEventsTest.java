package io.actorvm.vmm.actors.journal;

import io.actorvm.boot.CpuFeature;
import io.actorvm.mmu.HugePages;
import io.actorvm.persistence.proto.VmEvent;
import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.VmConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A VM's definition as the journal keeps it: what goes in comes back, and old or damaged entries read sensibly. */
class VmEventsTest {
    final Path data = Path.of("/var/lib/actorvm/vm1");

    @Test
    void aDefinitionComesBackAsItWent() {
        VmConfig config = new VmConfig("vm1", Path.of("/k/vmlinux"), "console=ttyS0", 64L << 20, 2, Path.of("/k/initrd"),
                CpuFeature.parseDisabled("-cx16"), List.of(new DiskConfig(Path.of("/d/root.img"), true)), true,
                List.of(new NetConfig(NetConfig.Kind.SWITCH, "lan", null)), data, HugePages.HUGETLB_2M);
        assertEquals(config, VmEvents.config(VmEvents.definition(config), data));
        VmConfig thp = config.withHugePages(HugePages.TRANSPARENT);
        assertEquals(thp, VmEvents.config(VmEvents.definition(thp), data));
    }

    @Test
    void aDefinitionWrittenBeforeHugePagesMeansSmallPages() {
        VmConfig config = new VmConfig("vm1", Path.of("/k/vmlinux"), "", 16L << 20, 1).withDataDir(data);
        VmEvent.Defined d = VmEvents.definition(config);
        assertTrue(d.getHugePages().isEmpty(), "4 KiB pages are written as before");
        assertEquals(HugePages.NONE, VmEvents.config(d, data).hugePages());
    }

    @Test
    void aDamagedHugePagesValueIsAnErrorNamingIt() {
        VmEvent.Defined d = VmEvents.definition(new VmConfig("vm1", Path.of("/k/vmlinux"), "", 16L << 20, 1)).toBuilder()
                .setHugePages("1G").build();
        var e = assertThrows(IllegalArgumentException.class, () -> VmEvents.config(d, data));
        assertTrue(e.getMessage().contains("'1G'"), e.getMessage());
    }
}
