package io.actorvm.images;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DebianPackagesTest {
    static final String POLICY = """
            linux-image-cloud-amd64:
              Installed: (none)
              Candidate: 6.1.192-2
              Version table:
                 6.1.192-2 500
                    500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
            """;

    @Test
    void parsesCandidateVersionsPerPackage() {
        String two = POLICY + """
                busybox-static:
                  Installed: (none)
                  Candidate: 1:1.35.0-4+deb12u1+b1
                  Version table:
                mail-transport-agent:
                  Installed: (none)
                  Candidate: (none)
                  Version table:
                """;
        assertEquals(Map.of("linux-image-cloud-amd64", "6.1.192-2", "busybox-static", "1:1.35.0-4+deb12u1+b1"),
                DebianPackages.parsePolicy(two));
        assertEquals(Map.of(), DebianPackages.parsePolicy("")); // what apt-cache prints for an unknown name
    }

    @Test
    void findsTheKernelImageAMetapackageDependsOn() {
        String show = """
                Package: linux-image-amd64
                Version: 6.1.192-2
                Provides: linux-image-generic, wireguard-modules (= 1.0.0)
                Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)
                """;
        assertEquals(Optional.of("linux-image-6.1.0-56-amd64"), DebianPackages.parseKernelImageDependency(show));
        assertEquals(Optional.empty(), DebianPackages.parseKernelImageDependency(
                "Package: linux-image-6.1.0-56-amd64\nDepends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\n"));
    }

    @Test
    void aptErrorsAreItsELines() {
        var r = new DebianPackages.Result(100, "", "W: Download is performed unsandboxed as root\nE: Failed to fetch http://x/y  Could not resolve 'deb.debian.org'\n");
        assertEquals("Failed to fetch http://x/y Could not resolve 'deb.debian.org'", DebianPackages.aptError(r));
        var two = new DebianPackages.Result(100, "", "E: Failed to fetch a\nE: Failed to fetch b\nE: Some files failed to download\n");
        assertEquals("Failed to fetch a (and 2 more errors)", DebianPackages.aptError(two));
        assertEquals("exit status 1", DebianPackages.aptError(new DebianPackages.Result(1, "", "")));
    }

    /** apt-cache knows nothing until 'apt-get update' has run. */
    static final class EmptyListsUntilUpdate implements DebianPackages.Runner {
        final List<String> commands = new ArrayList<>();
        boolean updated;

        @Override
        public DebianPackages.Result run(Path dir, List<String> command) {
            commands.add(String.join(" ", command));
            if (command.equals(List.of("apt-get", "update"))) {
                updated = true;
                return new DebianPackages.Result(0, "", "");
            }
            if (command.equals(List.of("apt-cache", "policy"))) {
                return new DebianPackages.Result(0, updated ? POLICY : "Package files:\n 100 /var/lib/dpkg/status\n", "");
            }
            return new DebianPackages.Result(0, updated ? POLICY : "", "");
        }
    }

    @Test
    void rootRunsAptGetUpdateOnceWhenThereIsNoCandidate() {
        var runner = new EmptyListsUntilUpdate();
        var apt = new DebianPackages(runner, true, m -> {});
        assertEquals(new DebianPackages.Package("linux-image-cloud-amd64", "6.1.192-2"), apt.candidate("linux-image-cloud-amd64"));
        assertEquals(1, runner.commands.stream().filter(c -> c.equals("apt-get update")).count());
    }

    @Test
    void otherUsersAreToldToRunAptGetUpdate() {
        var runner = new EmptyListsUntilUpdate();
        var apt = new DebianPackages(runner, false, m -> {});
        var e = assertThrows(GuestBuildException.class, () -> apt.candidate("linux-image-cloud-amd64"));
        assertEquals("apt has no package lists: run 'apt-get update' as root first", e.getMessage());
        assertTrue(runner.commands.stream().noneMatch(c -> c.equals("apt-get update")));
    }

    @Test
    void missingAptIsOneLine() {
        var apt = new DebianPackages((dir, command) -> {
            throw new java.io.IOException("Cannot run program \"apt-cache\": error=2, No such file or directory");
        }, false, m -> {});
        var e = assertThrows(GuestBuildException.class, () -> apt.candidate("linux-image-amd64"));
        assertTrue(e.getMessage().startsWith("apt-cache is not available"), e.getMessage());
        assertTrue(e.getMessage().contains("Debian-based host"), e.getMessage());
    }
}
