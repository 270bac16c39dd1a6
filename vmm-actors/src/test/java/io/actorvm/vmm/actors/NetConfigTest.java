package io.actorvm.vmm.actors;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class NetConfigTest {
    @Test
    void parsesTapSwitchNoneAndMac() {
        NetConfig tap = NetConfig.parse("tap=avm0");
        assertEquals(NetConfig.Kind.TAP, tap.kind());
        assertEquals("avm0", tap.name());
        NetConfig sw = NetConfig.parse("switch=lan,mac=02:00:00:00:00:0a");
        assertEquals(NetConfig.Kind.SWITCH, sw.kind());
        assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 10}, sw.macFor("vm", 0));
        assertNull(NetConfig.parse("none"));
        byte[] derived = tap.macFor("web-1", 3);
        assertEquals(2, derived[0], "locally administered, unicast");
        assertEquals(3, derived[5]);
        assertArrayEquals(derived, tap.macFor("web-1", 3));
    }

    @Test
    void refusesNonsense() {
        for (String bad : new String[] {"tap", "tap=", "wifi=x", "switch=lan,mtu=9000", "tap=x,mac=02:00", "tap=x,mac=zz:00:00:00:00:00"}) {
            assertThrows(IllegalArgumentException.class, () -> NetConfig.parse(bad), bad);
        }
        assertEquals("bad disk option 'rx' in 'a.img,rx' (use PATH or PATH,ro)",
                assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse("a.img,rx")).getMessage());
    }
}
