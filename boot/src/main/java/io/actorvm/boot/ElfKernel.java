package io.actorvm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * An x86 ELF kernel that boots through PVH: its loadable segments and the 32-bit entry point
 * from the {@code XEN_ELFNOTE_PHYS32_ENTRY} note. Parsing only; placing it in guest memory is
 * {@link KernelLoader}'s job and setting up the boot CPU is {@link PvhBoot}'s (loading is kept
 * apart from configuring, as rust-vmm's linux-loader does). Every header field is checked
 * against the file size before use: the file is untrusted input.
 */
public record ElfKernel(long pvhEntry, List<LoadSegment> segments) {

    /** A PT_LOAD segment: {@code fileSize} bytes from {@code fileOffset}, then zeros up to {@code memSize}. */
    public record LoadSegment(long physAddress, long fileOffset, long fileSize, long memSize) {
        public long end() {
            return physAddress + memSize;
        }
    }

    static final int PT_LOAD = 1, PT_NOTE = 4;
    static final int EM_386 = 3, EM_X86_64 = 62;
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    /** Nobody boots a kernel with thousands of program headers; the cap bounds the work on hostile files. */
    static final int MAX_PHDRS = 256;

    public static boolean looksLikeElf(byte[] file) {
        return file.length >= 4 && file[0] == 0x7F && file[1] == 'E' && file[2] == 'L' && file[3] == 'F';
    }

    public static ElfKernel parse(byte[] file) {
        if (!looksLikeElf(file)) throw new KernelFormatException("not an ELF file");
        if (file.length < 52) throw new KernelFormatException("ELF header truncated");
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int elfClass = file[4];
        if (file[5] != 1) throw new KernelFormatException("ELF file is not little-endian");
        boolean is64 = switch (elfClass) {
            case 1 -> false;
            case 2 -> true;
            default -> throw new KernelFormatException("unknown ELF class " + elfClass);
        };
        if (is64 && file.length < 64) throw new KernelFormatException("ELF header truncated");
        int machine = Short.toUnsignedInt(b.getShort(18));
        if (machine != (is64 ? EM_X86_64 : EM_386)) throw new KernelFormatException("ELF file is not for x86 (e_machine " + machine + ")");
        long phoff = is64 ? b.getLong(32) : Integer.toUnsignedLong(b.getInt(28));
        int phentsize = Short.toUnsignedInt(b.getShort(is64 ? 54 : 42));
        int phnum = Short.toUnsignedInt(b.getShort(is64 ? 56 : 44));
        if (phnum == 0) throw new KernelFormatException("ELF file has no program headers");
        if (phnum > MAX_PHDRS) throw new KernelFormatException("ELF file has " + phnum + " program headers");
        if (phentsize < (is64 ? 56 : 32)) throw new KernelFormatException("ELF program header size " + phentsize + " too small");
        if (phoff < 0 || phoff > file.length || (long) phentsize * phnum > file.length - phoff) {
            throw new KernelFormatException("ELF program headers lie outside the file");
        }
        List<LoadSegment> segments = new ArrayList<>();
        Long entry = null;
        for (int i = 0; i < phnum; i++) {
            int p = (int) (phoff + (long) i * phentsize);
            int type = b.getInt(p);
            long offset, paddr, filesz, memsz;
            if (is64) {
                offset = b.getLong(p + 8);
                paddr = b.getLong(p + 24);
                filesz = b.getLong(p + 32);
                memsz = b.getLong(p + 40);
            } else {
                offset = Integer.toUnsignedLong(b.getInt(p + 4));
                paddr = Integer.toUnsignedLong(b.getInt(p + 12));
                filesz = Integer.toUnsignedLong(b.getInt(p + 16));
                memsz = Integer.toUnsignedLong(b.getInt(p + 20));
            }
            if (type != PT_LOAD && type != PT_NOTE) continue;
            if (offset < 0 || filesz < 0 || offset > file.length || filesz > file.length - offset) {
                throw new KernelFormatException("ELF segment " + i + " lies outside the file (truncated kernel?)");
            }
            if (type == PT_LOAD) {
                if (memsz < filesz || paddr < 0 || memsz < 0 || paddr + memsz < paddr) {
                    throw new KernelFormatException("ELF segment " + i + " has bad sizes");
                }
                if (memsz > 0) segments.add(new LoadSegment(paddr, offset, filesz, memsz));
            } else {
                Long found = pvhEntryFromNotes(b, (int) offset, (int) filesz);
                if (found != null) entry = found;
            }
        }
        if (segments.isEmpty()) throw new KernelFormatException("ELF file has no loadable segments");
        if (entry == null) throw new KernelFormatException("ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
        return new ElfKernel(entry, List.copyOf(segments));
    }

    /** Walks the notes of one PT_NOTE segment: {namesz, descsz, type, name (4-aligned), desc (4-aligned)}. */
    private static Long pvhEntryFromNotes(ByteBuffer b, int start, int length) {
        long pos = start;
        long end = (long) start + length;
        while (pos + 12 <= end) {
            long namesz = Integer.toUnsignedLong(b.getInt((int) pos));
            long descsz = Integer.toUnsignedLong(b.getInt((int) pos + 4));
            int type = b.getInt((int) pos + 8);
            long name = pos + 12;
            long desc = name + align4(namesz);
            long next = desc + align4(descsz);
            if (next > end || next <= pos) return null; // malformed: stop, do not read past the segment
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && b.get((int) name) == 'X' && b.get((int) name + 1) == 'e'
                    && b.get((int) name + 2) == 'n' && b.get((int) name + 3) == 0) {
                if (descsz == 4) return Integer.toUnsignedLong(b.getInt((int) desc));
                if (descsz == 8) return b.getLong((int) desc);
                return null;
            }
            pos = next;
        }
        return null;
    }

    private static long align4(long v) {
        return (v + 3) & ~3L;
    }
}
