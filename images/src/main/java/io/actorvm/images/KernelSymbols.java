package io.actorvm.images;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A Linux kernel's symbols for gdb. The vmlinux inside Debian's vmlinuz is stripped, and the
 * package's {@code System.map} is a placeholder (the real one is in the -dbg package); the running
 * kernel lists its symbols in {@code /proc/kallsyms}. This turns that list (or any System.map) into
 * a small ELF file holding only a symbol table (one section without contents spans the kernel's
 * addresses), which gdb loads with {@code symbol-file}: {@code break start_kernel},
 * {@code info symbol $pc} and {@code x/s &linux_banner} then work against the guest.
 */
public final class KernelSymbols {
    private KernelSymbols() {}

    /** One line of System.map or /proc/kallsyms: address, nm's type letter, name (a module's symbols name it after). */
    public record Symbol(long address, char type, String name) {}

    /** Reads {@code symbols} (System.map or kallsyms text; it may end in NUL padding, as on a raw disk) and writes the ELF to {@code out}. */
    public static int write(java.nio.file.Path symbols, java.nio.file.Path out) throws java.io.IOException {
        String text = new String(java.nio.file.Files.readAllBytes(symbols), StandardCharsets.ISO_8859_1);
        int nul = text.indexOf('\0');
        List<Symbol> parsed = parse(List.of((nul < 0 ? text : text.substring(0, nul)).split("\n")));
        java.nio.file.Files.write(out, elf(parsed));
        return parsed.size();
    }

    /** Kernel addresses start here; per-CPU offsets and absolute values below it are left out. */
    static final long KERNEL_SPACE = 0xffff_8000_0000_0000L;
    /** A symbol's size is the gap to the next one, at most this (the last one gets a page). */
    static final long MAX_SIZE = 1 << 20;

    public static List<Symbol> parse(List<String> lines) {
        List<Symbol> out = new ArrayList<>();
        for (String line : lines) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 3 || f[1].length() != 1) continue; // kallsyms adds "[module]" to a module's symbols
            long address;
            try {
                address = Long.parseUnsignedLong(f[0], 16);
            } catch (NumberFormatException e) {
                continue;
            }
            char type = f[1].charAt(0);
            if (Long.compareUnsigned(address, KERNEL_SPACE) < 0 || elfType(type) < 0) continue;
            out.add(new Symbol(address, type, f[2]));
        }
        out.sort(Comparator.comparing(Symbol::address, Long::compareUnsigned));
        return out;
    }

    private static final int STT_OBJECT = 1, STT_FUNC = 2, STB_GLOBAL = 1;

    /** Functions and data; the rest (absolute values, section markers nm calls N or U) are left out. */
    private static int elfType(char type) {
        return switch (Character.toUpperCase(type)) {
            case 'T', 'W' -> STT_FUNC;
            case 'D', 'B', 'R', 'V', 'G', 'S' -> STT_OBJECT;
            default -> -1;
        };
    }

    /** An ELF64 x86-64 file with sections: null, .kernel (NOBITS over every symbol), .symtab, .strtab, .shstrtab. */
    public static byte[] elf(List<Symbol> symbols) {
        if (symbols.isEmpty()) throw new IllegalArgumentException("no kernel symbols (addresses all zero? read /proc/kallsyms as root)");
        long low = symbols.getFirst().address(), high = symbols.getLast().address() + 4096;
        ByteArrayOutputStream strtab = new ByteArrayOutputStream();
        strtab.write(0);
        ByteBuffer symtab = le(24 * (symbols.size() + 1));
        symtab.put(new byte[24]); // symbol 0: none
        for (int i = 0; i < symbols.size(); i++) {
            Symbol s = symbols.get(i);
            long next = i + 1 < symbols.size() ? symbols.get(i + 1).address() : s.address() + 4096;
            int name = strtab.size();
            strtab.writeBytes(s.name().getBytes(StandardCharsets.US_ASCII));
            strtab.write(0);
            symtab.putInt(name).put((byte) (STB_GLOBAL << 4 | elfType(s.type()))).put((byte) 0).putShort((short) 1)
                    .putLong(s.address()).putLong(Math.min(next - s.address(), MAX_SIZE));
        }
        byte[] shstrtab = "\0.kernel\0.symtab\0.strtab\0.shstrtab\0".getBytes(StandardCharsets.US_ASCII);
        byte[] str = strtab.toByteArray();
        int symOff = 64, strOff = symOff + symtab.capacity(), shstrOff = strOff + str.length;
        int shOff = (shstrOff + shstrtab.length + 7) & ~7;
        ByteBuffer f = le(shOff + 5 * 64);
        // ELF header: 64-bit, little-endian, current version, an executable for x86-64.
        f.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).put(new byte[8]);
        f.putShort((short) 2).putShort((short) 62).putInt(1).putLong(0).putLong(0).putLong(shOff).putInt(0)
                .putShort((short) 64).putShort((short) 0).putShort((short) 0).putShort((short) 64).putShort((short) 5).putShort((short) 4);
        f.put(symtab.array()).put(str).put(shstrtab);
        f.position(shOff);
        section(f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        section(f, 1, 8 /* NOBITS */, 0x7 /* write, alloc, exec */, low, 0, high - low, 0, 0, 4096, 0);
        section(f, 9, 2 /* SYMTAB */, 0, 0, symOff, symtab.capacity(), 3, 1, 8, 24);
        section(f, 17, 3 /* STRTAB */, 0, 0, strOff, str.length, 0, 0, 1, 0);
        section(f, 25, 3, 0, 0, shstrOff, shstrtab.length, 0, 0, 1, 0);
        return f.array();
    }

    private static void section(ByteBuffer f, int name, int type, long flags, long addr, long offset, long size, int link, int info,
                                long align, long entsize) {
        f.putInt(name).putInt(type).putLong(flags).putLong(addr).putLong(offset).putLong(size).putInt(link).putInt(info)
                .putLong(align).putLong(entsize);
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}
