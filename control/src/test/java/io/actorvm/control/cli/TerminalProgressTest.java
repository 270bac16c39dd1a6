package io.actorvm.control.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TerminalProgressTest {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    @Test
    void notOnATerminalTheLinesComeAsTheyAreAndNoBar() {
        try (TerminalProgress p = TerminalProgress.open("guest build", "actorvm guest: ", false, err)) {
            p.step(0, 5, "resolving");
            p.log().accept("resolved linux-image-cloud-amd64");
            p.step(5, 5, "done");
        }
        assertEquals("actorvm guest: resolved linux-image-cloud-amd64\n", bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void onATerminalABarRunsAndTheLinesFollowWhenItIsDone() throws Exception {
        TerminalProgress p = TerminalProgress.open("guest build", "actorvm guest: ", true, err);
        p.step(0, 5, "resolving");
        p.log().accept("resolved linux-image-cloud-amd64");
        p.step(2, 5, "unpacking with dpkg-deb");
        Thread.sleep(600); // the bar redraws every 250 ms
        String during = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(during.contains("guest build") && during.contains("2/5"), during);
        assertTrue(!during.contains("actorvm guest: resolved"), "lines wait for the bar: " + during);
        p.step(5, 5, "done");
        p.log().accept("after the bar");
        p.close();
        String all = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(all.contains("5/5"), all);
        int resolved = all.indexOf("actorvm guest: resolved linux-image-cloud-amd64\n"), after = all.indexOf("actorvm guest: after the bar\n");
        assertTrue(resolved > all.lastIndexOf("5/5") && after > resolved, all);
    }
}
