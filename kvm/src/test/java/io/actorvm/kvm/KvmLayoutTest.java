package io.actorvm.kvm;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Compares every layout in {@link Structs}, every ioctl number in {@link Ioctls} and every
 * {@link Capability} with what gcc computes from {@code <linux/kvm.h>}. The C program is generated
 * from the Java side by reflection, so a new struct, member, ioctl or capability is checked without
 * touching this test; a Java member name with no C counterpart makes the C program fail to compile.
 *
 * <p>Printed lines are {@code <key> <number>}: {@code kvm_regs.sizeof 144} for a size,
 * {@code kvm_regs.rip 128} for an offset, {@code kvm_regs.rip.sizeof 8} for a member's size
 * ({@code sizeof} is a C keyword, so it never clashes with a member name), {@code KVM_RUN 44672} for
 * an ioctl and {@code KVM_CAP_IRQCHIP 0} for a capability.
 */
class KvmLayoutTest {

    /** How a Java layout constant maps onto C: the struct to take offsetof in, and where in it the Java layout starts. */
    private record CTarget(String key, String root, String prefix, String baseOffset, String sizeExpr) {
        static CTarget struct(String name) {
            return new CTarget(name, "struct " + name, "", "0", "sizeof(struct " + name + ")");
        }

        /** A named member struct of kvm_run's anonymous exit union, checked relative to its own start. */
        static CTarget runMember(String member) {
            return new CTarget("kvm_run." + member, "struct kvm_run", member + ".",
                    "offsetof(struct kvm_run, " + member + ")", "sizeof(((struct kvm_run *)0)->" + member + ")");
        }
    }

    /** Structs constants that are not a C struct of the same name. */
    private static final Map<String, CTarget> SPECIAL = Map.of(
            "RUN_IO", CTarget.runMember("io"),
            "RUN_MMIO", CTarget.runMember("mmio"),
            "RUN_DEBUG", CTarget.runMember("debug"),
            // Structs.RUN is only the fixed head of kvm_run (up to kvm_dirty_regs); the C struct goes on
            // with the 2 KiB sync-regs union `s`, so the Java size is the offset of `s`.
            "RUN", new CTarget("kvm_run", "struct kvm_run", "", "0", "offsetof(struct kvm_run, s)"));

    /**
     * Named Java members with no named C counterpart, and why. Their own offset/size is not compared
     * by name; their members are, with this path element left out of the C designator.
     */
    private static final Map<String, String> ANONYMOUS_IN_C = Map.of(
            // union { struct {...} io; struct {...} mmio; ...; char padding[256]; } is anonymous in kvm_run:
            // C names its members kvm_run.io, kvm_run.mmio, kvm_run.padding directly.
            "kvm_run.exit", "anonymous union in struct kvm_run");
    // Unnamed Java members are only allowed to be padding (asserted below); they have no C name:
    //   - Structs.RUN_MMIO's trailing paddingLayout(3): C's implicit tail padding after is_write.

    private static Path gcc;

    @BeforeAll
    static void findGcc() {
        gcc = Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator))
                .map(dir -> Path.of(dir, "gcc"))
                .filter(Files::isExecutable)
                .findFirst().orElse(null);
        Assumptions.assumeTrue(gcc != null, "gcc is not on PATH: cannot compile the <linux/kvm.h> probe");
    }

    private final StringBuilder c = new StringBuilder();
    /** Expected values from the Java side, keyed like the C program's output lines. */
    private final Map<String, Long> java = new LinkedHashMap<>();
    private final Set<String> anonymousSeen = new HashSet<>();

    private void expect(String key, long javaValue, String cExpr) {
        if (java.put(key, javaValue) != null) throw new IllegalStateException("duplicate key " + key);
        c.append("    printf(\"%s %llu\\n\", \"").append(key).append("\", (unsigned long long) (").append(cExpr).append("));\n");
    }

    private static List<Field> publicConstants(Class<?> type, Class<?> fieldType) {
        List<Field> out = new ArrayList<>();
        for (Field f : type.getDeclaredFields()) {
            int m = f.getModifiers();
            if (Modifier.isPublic(m) && Modifier.isStatic(m) && Modifier.isFinal(m) && f.getType() == fieldType) out.add(f);
        }
        return out;
    }

    private void structs() throws IllegalAccessException {
        List<Field> fields = publicConstants(Structs.class, StructLayout.class);
        assertTrue(fields.size() >= 10, "found only " + fields.size() + " layouts in Structs");
        for (Field f : fields) {
            StructLayout layout = (StructLayout) f.get(null);
            Optional<String> name = layout.name();
            assertTrue(name.isPresent(), "Structs." + f.getName() + " has no name");
            CTarget target = SPECIAL.getOrDefault(f.getName(), CTarget.struct(name.get()));
            expect(target.key() + ".sizeof", layout.byteSize(), target.sizeExpr());
            members(layout, layout, target, List.of(), List.of());
        }
    }

    private void members(StructLayout top, GroupLayout group, CTarget target, List<String> javaPath, List<String> cPath) {
        for (MemoryLayout m : group.memberLayouts()) {
            if (m.name().isEmpty()) {
                assertTrue(m instanceof PaddingLayout, "unnamed non-padding member " + m + " in " + top);
                continue;
            }
            List<String> jp = append(javaPath, m.name().get());
            String key = target.key() + "." + String.join(".", jp);
            boolean anonymous = ANONYMOUS_IN_C.containsKey(key);
            List<String> cp = anonymous ? cPath : append(cPath, m.name().get());
            if (anonymous) {
                anonymousSeen.add(key);
            } else {
                String designator = target.prefix() + String.join(".", cp);
                long offset = top.byteOffset(jp.stream().map(MemoryLayout.PathElement::groupElement)
                        .toArray(MemoryLayout.PathElement[]::new));
                expect(key, offset, "offsetof(" + target.root() + ", " + designator + ") - " + target.baseOffset());
                expect(key + ".sizeof", m.byteSize(), "sizeof(((" + target.root() + " *)0)->" + designator + ")");
            }
            if (m instanceof GroupLayout g) members(top, g, target, jp, cp);
        }
    }

    private static List<String> append(List<String> list, String element) {
        List<String> out = new ArrayList<>(list);
        out.add(element);
        return out;
    }

    private void ioctls() throws IllegalAccessException {
        List<Field> fields = publicConstants(Ioctls.class, long.class);
        assertTrue(fields.stream().anyMatch(f -> f.getName().equals("KVM_RUN")) && fields.size() >= 20,
                "found only " + fields.size() + " ioctls");
        for (Field f : fields) expect(f.getName(), f.getLong(null), f.getName());
    }

    private void capabilities() {
        for (Capability cap : Capability.values()) expect("KVM_CAP_" + cap.name(), cap.number(), "KVM_CAP_" + cap.name());
    }

    @Test
    void layoutsIoctlsAndCapabilitiesMatchLinuxKvmH(@TempDir Path dir) throws Exception {
        structs();
        ioctls();
        capabilities();
        assertEquals(ANONYMOUS_IN_C.keySet(), anonymousSeen, "stale entries in ANONYMOUS_IN_C");

        String source = "#include <stdio.h>\n#include <stddef.h>\n#include <linux/kvm.h>\n\nint main(void) {\n"
                + c + "    return 0;\n}\n";
        Path src = dir.resolve("kvm_layout.c"), exe = dir.resolve("kvm_layout");
        Files.writeString(src, source);
        String compile = run(dir, gcc.toString(), "-std=gnu11", "-Wall", "-o", exe.toString(), src.toString());
        if (!Files.isExecutable(exe)) fail("gcc failed:\n" + compile + "\n--- source ---\n" + source);
        String output = run(dir, exe.toString());

        Map<String, Long> fromC = new LinkedHashMap<>();
        for (String line : output.split("\n")) {
            if (line.isBlank()) continue;
            String[] kv = line.trim().split(" ");
            assertEquals(2, kv.length, "bad line from the probe: " + line);
            fromC.put(kv[0], Long.parseUnsignedLong(kv[1]));
        }

        List<String> mismatches = new ArrayList<>();
        java.forEach((key, expected) -> {
            Long actual = fromC.get(key);
            if (actual == null) mismatches.add(key + ": not printed by the C probe");
            else if (actual.longValue() != expected) {
                mismatches.add("%s: Java %d (0x%x), C %d (0x%x)".formatted(key, expected, expected, actual, actual));
            }
        });
        assertEquals(java.size(), fromC.size(), "C printed " + fromC.size() + " values for " + java.size() + " checks");
        assertTrue(mismatches.isEmpty(), mismatches.size() + " mismatches with <linux/kvm.h>:\n  " + String.join("\n  ", mismatches));

        // Spot checks, so an empty or degenerate probe cannot pass.
        assertEquals(144L, fromC.get("kvm_regs.sizeof"));
        assertEquals(128L, fromC.get("kvm_regs.rip"));
        assertEquals(312L, fromC.get("kvm_sregs.sizeof"));
        assertEquals(32L, fromC.get("kvm_run.exit.io.direction"));
        assertEquals(52L, fromC.get("kvm_run.exit.mmio.is_write"));
        assertEquals(0xAE80L, fromC.get("KVM_RUN"));
        assertEquals(0L, fromC.get("KVM_CAP_IRQCHIP"));
    }

    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", command) + " timed out");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0 && !command[0].equals(gcc.toString())) {
            fail(String.join(" ", command) + " exited " + p.exitValue() + ":\n" + text);
        }
        return text;
    }
}
