package io.actorvm.vmm.actors.cluster;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class HostPortTest {
    @Test
    void hostsAndPortsParseAndPrintBack() {
        assertEquals(new HostPort("127.0.0.1", 2552), HostPort.parse("127.0.0.1:2552", "--seed"));
        assertEquals(new HostPort("node-b.example", 0), HostPort.parse("node-b.example:0", "--api"));
        HostPort v6 = HostPort.parse("[::1]:8080", "--seed");
        assertEquals("::1", v6.host());
        assertEquals("[::1]:8080", v6.toString());
        assertEquals("10.0.0.2:7000", HostPort.parse("10.0.0.2:7000", "x").toString());
        assertEquals(7000, HostPort.parse("10.0.0.2:7000", "x").unresolved().getPort());
    }

    @Test
    void anythingElseIsOneLineNamingTheOptionAndTheText() {
        for (String bad : new String[] {"", "host", ":80", "host:", "host:http", "host:65536", "host:123456", "[]:80", "host:-1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HostPort.parse(bad, "--seed"));
            assertEquals("--seed takes HOST:PORT, not '" + bad + "'", e.getMessage());
        }
    }
}
