package io.actorvm.control.cli;

import io.actorvm.vmm.actors.DiskConfig;
import io.actorvm.vmm.actors.NetConfig;
import io.actorvm.vmm.actors.VmConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** restore --disk/--net: this host's files and taps behind the snapshot's devices. */
class RestoreOverridesTest {
    static final byte[] MAC = {2, 0, 0, 0, 0, 7};
    final VmConfig recorded = new VmConfig("web", Path.of("/k"), "", 16L << 20, 1)
            .withDisks(List.of(new DiskConfig(Path.of("/old/disk.img"), false)))
            .withNets(List.of(new NetConfig(NetConfig.Kind.TAP, "tap-old", MAC)));

    RestoreCommand restore(List<String> disks, List<String> nets) {
        RestoreCommand c = new RestoreCommand();
        c.snapshot = "s1";
        c.disks = disks;
        c.nets = nets;
        return c;
    }

    @Test
    void disksAndTapsAreReplacedInOrderAndTheGuestKeepsItsMac() {
        VmConfig c = restore(List.of("/new/disk.img,ro"), List.of("tap=tap-new")).withHostOverrides(recorded);
        assertEquals(Path.of("/new/disk.img"), c.disks().getFirst().path());
        assertTrue(c.disks().getFirst().readOnly());
        assertEquals("tap-new", c.nets().getFirst().name());
        assertArrayEquals(MAC, c.nets().getFirst().mac(), "the guest's MAC is part of what it knows");
        assertEquals(recorded, restore(List.of(), List.of()).withHostOverrides(recorded), "nothing given, nothing changed");
    }

    @Test
    void aCountThatDoesNotMatchTheSnapshotIsAOneLineError() {
        assertEquals("snapshot s1 has 1 disk(s); --disk was given 2 time(s) (give each of them, in order)",
                assertThrows(IllegalArgumentException.class,
                        () -> restore(List.of("/a.img", "/b.img"), List.of()).withHostOverrides(recorded)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> restore(List.of(), List.of("none")).withHostOverrides(recorded));
    }
}
