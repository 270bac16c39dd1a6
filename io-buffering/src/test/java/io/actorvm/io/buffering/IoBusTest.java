package io.actorvm.io.buffering;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoBusTest {
    private static final IoRange SERIAL = new IoRange(0x3F8, 8), I8042 = new IoRange(0x60, 5),
            POST = new IoRange(0x80, 1), DEBUG = new IoRange(0x501, 1);

    private IoBus<String> bus;

    @BeforeEach
    void build() {
        bus = new IoBus<>();
        bus.register(SERIAL, "serial");
        bus.register(POST, "post");
        bus.register(I8042, "i8042");
        bus.register(DEBUG, "debug");
    }

    private void assertRoutes(long address, int size, String owner, IoRange range, long offset) {
        assertEquals(Optional.of(new IoBus.Target<>(owner, range, offset)), bus.lookup(address, size),
                "0x%x/%d".formatted(address, size));
        // The exit path's form: the registered claim itself, the same object every time.
        IoBus.Claim<String> claim = bus.claimOf(address, size);
        assertEquals(new IoBus.Claim<>(range, owner), claim);
        assertSame(claim, bus.claimOf(address, size));
    }

    private void assertUnrouted(long address, int size) {
        assertEquals(Optional.empty(), bus.lookup(address, size), "0x%x/%d".formatted(address, size));
        assertNull(bus.claimOf(address, size), "0x%x/%d".formatted(address, size));
    }

    @Test
    void routesInsideAndAtTheEdges() {
        assertEquals(4, bus.size());
        assertRoutes(0x3F8, 1, "serial", SERIAL, 0);
        assertRoutes(0x3FD, 1, "serial", SERIAL, 5);
        assertRoutes(0x3FF, 1, "serial", SERIAL, 7);
        assertRoutes(0x3FC, 4, "serial", SERIAL, 4);
        assertRoutes(0x3F8, 8, "serial", SERIAL, 0);
        assertRoutes(0x60, 1, "i8042", I8042, 0);
        assertRoutes(0x64, 1, "i8042", I8042, 4);
        assertRoutes(0x80, 1, "post", POST, 0);
        assertRoutes(0x501, 1, "debug", DEBUG, 0);
    }

    @Test
    void zeroSizeIsTreatedAsOneByte() {
        assertRoutes(0x3FF, 0, "serial", SERIAL, 7);
        assertUnrouted(0x400, 0);
    }

    @Test
    void addressesOutsideEveryRangeAreUnrouted() {
        assertUnrouted(0, 1);
        assertUnrouted(0x5F, 1);
        assertUnrouted(0x65, 1);   // just past the i8042
        assertUnrouted(0x81, 1);   // just past the POST port
        assertUnrouted(0x3F7, 1);  // just below the serial port
        assertUnrouted(0x400, 1);  // just past it
        assertUnrouted(0x500, 1);
        assertUnrouted(0x502, 1);
        assertUnrouted(0xFFFF, 1);
        assertUnrouted(-1, 1);
        assertUnrouted(Long.MIN_VALUE, 4);
        assertUnrouted(Long.MAX_VALUE, 8);
    }

    @Test
    void accessesStraddlingARangeEndAreUnrouted() {
        assertUnrouted(0x3FF, 2);
        assertUnrouted(0x3FE, 4);
        assertUnrouted(0x3FC, 8);
        assertUnrouted(0x3F8, 9);
        assertUnrouted(0x80, 2);
        assertUnrouted(0x64, 2);
        assertUnrouted(0x3F8, Integer.MAX_VALUE);
        // Starting below a range is unrouted even if the access reaches into it.
        assertUnrouted(0x3F7, 2);
        assertUnrouted(0x5F, 4);
    }

    @Test
    void emptyBusRoutesNothing() {
        IoBus<String> empty = new IoBus<>();
        assertEquals(0, empty.size());
        assertEquals(Optional.empty(), empty.lookup(0x3F8, 1));
    }

    @Test
    void lookupNearLongMaxValueDoesNotOverflow() {
        IoBus<String> mmio = new IoBus<>();
        IoRange top = new IoRange(Long.MAX_VALUE - 16, 16); // ends exactly at Long.MAX_VALUE
        mmio.register(top, "top");
        assertEquals(Optional.of(new IoBus.Target<>("top", top, 8)), mmio.lookup(Long.MAX_VALUE - 8, 8));
        assertEquals(Optional.empty(), mmio.lookup(Long.MAX_VALUE - 4, 8)); // address + size - 1 overflows
        assertEquals(Optional.empty(), mmio.lookup(Long.MAX_VALUE - 1, Integer.MAX_VALUE));
        assertEquals(Optional.empty(), mmio.lookup(Long.MAX_VALUE, 1));
    }

    @Test
    void overlappingRegistrationIsRejectedAndLeavesTheBusUnchanged() {
        IoRange[] clashes = {
                new IoRange(0x3F8, 8),   // identical
                new IoRange(0x3F8, 1),   // same base, shorter
                new IoRange(0x3F0, 9),   // ends inside
                new IoRange(0x3FF, 4),   // starts inside
                new IoRange(0x3FA, 2),   // contained
                new IoRange(0x300, 0x200), // contains serial and debug
                new IoRange(0, 0x10000), // contains everything
                new IoRange(0x70, 0x11), // reaches the POST port from below
        };
        for (IoRange clash : clashes) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> bus.register(clash, "intruder"), clash.toString());
            assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
        }
        assertEquals(4, bus.size());
        assertRoutes(0x3F8, 1, "serial", SERIAL, 0);
        assertRoutes(0x3FA, 1, "serial", SERIAL, 2);
        assertRoutes(0x80, 1, "post", POST, 0);
    }

    @Test
    void adjacentRangesAreAccepted() {
        IoRange below = new IoRange(0x3F0, 8), above = new IoRange(0x400, 1), between = new IoRange(0x65, 0x1B);
        bus.register(below, "below");
        bus.register(above, "above");
        bus.register(between, "between"); // 0x65..0x7F: between the i8042 and the POST port
        assertEquals(7, bus.size());
        assertRoutes(0x3F7, 1, "below", below, 7);
        assertRoutes(0x3F8, 1, "serial", SERIAL, 0);
        assertRoutes(0x400, 1, "above", above, 0);
        assertRoutes(0x7F, 1, "between", between, 0x1A);
        assertRoutes(0x64, 1, "i8042", I8042, 4);
        assertUnrouted(0x3F7, 2); // spans two owners
    }
}
