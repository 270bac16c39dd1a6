package io.actorvm.control.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SizeParserTest {
    @Test
    void parsesQemuStyleSizes() {
        assertEquals(16L << 20, SizeParser.parse("16M"));
        assertEquals(16L << 20, SizeParser.parse("16m"));
        assertEquals(16L << 20, SizeParser.parse("16MiB"));
        assertEquals(16L << 20, SizeParser.parse("16MB"));
        assertEquals(1L << 30, SizeParser.parse("1G"));
        assertEquals(512L << 10, SizeParser.parse("512K"));
        assertEquals(4096, SizeParser.parse("4096"));
    }

    @Test
    void refusesNonsense() {
        for (String bad : new String[] {"", "M", "-1M", "0", "12Q", "1.5G", "99999999999999999999", "9000000000T"}) {
            assertThrows(IllegalArgumentException.class, () -> SizeParser.parse(bad), bad);
        }
    }
}
