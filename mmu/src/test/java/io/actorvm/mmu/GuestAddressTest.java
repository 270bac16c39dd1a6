package io.actorvm.mmu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestAddressTest {
    @Test
    void arithmeticIsUnsignedAndRefusesToWrap() {
        assertEquals(GuestAddress.of(0x1010), GuestAddress.of(0x1000).plus(0x10));
        assertEquals(GuestAddress.of(-1L), GuestAddress.of(-2L).plus(1)); // 2^64 - 1 is an address
        assertThrows(ArithmeticException.class, () -> GuestAddress.of(-1L).plus(1));
        assertThrows(ArithmeticException.class, () -> GuestAddress.of(0x1000).plus(-0x800L)); // a huge unsigned offset
        assertEquals(0x10, GuestAddress.of(0x1010).offsetFrom(GuestAddress.of(0x1000)));
        assertThrows(IllegalArgumentException.class, () -> GuestAddress.of(0x1000).offsetFrom(GuestAddress.of(0x1010)));
    }

    @Test
    void addressesWithTheTopBitSetSortAboveTheOthers() {
        assertTrue(GuestAddress.of(0x8000_0000_0000_0000L).compareTo(GuestAddress.of(0x7FFF_FFFF_FFFF_FFFFL)) > 0);
        assertEquals("0xfee00000", GuestAddress.of(0xFEE0_0000L).toString());
    }

    @Test
    void addressesAsUsersWriteThemParseAndAnythingElseIsNamed() {
        assertEquals(GuestAddress.of(0x1000), GuestAddress.parse("0x1000"));
        assertEquals(GuestAddress.of(4096), GuestAddress.parse(" 4096 "));
        assertEquals(GuestAddress.of(0xffff_ffff_8100_0000L), GuestAddress.parse("0xFFFF_FFFF_8100_0000")); // a kernel address
        assertEquals(GuestAddress.of(-1L), GuestAddress.parse("18446744073709551615"));
        for (String bad : new String[] {"", "0x", "0xzz", "-1", "18446744073709551616", "0x1_0000_0000_0000_0000"}) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> GuestAddress.parse(bad));
            assertEquals("bad address '" + bad + "' (e.g. 0x1000 or 4096)", e.getMessage());
        }
    }
}
