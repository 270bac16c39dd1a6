package io.actorvm.libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc functions actorvm needs (KVM's ioctls, guest memory mappings, eventfds, epoll, tap
 * devices, vCPU signals), as FFM downcalls, in one place for every module. Every call that can
 * fail captures {@code errno} in a per-thread segment (the capture state is written by the
 * callee's thread, so each vCPU thread needs its own) and either throws a
 * {@link SyscallException} naming the call or, where failure is part of normal operation (EINTR,
 * EAGAIN), returns -errno.
 */
public final class Libc {
    private Libc() {}

    public static final int O_RDONLY = 0x0;
    public static final int O_RDWR = 0x2;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    /** hugetlbfs pages, of the size MAP_HUGE_2MB names (log2 of it in bits 26..31). */
    public static final int MAP_HUGETLB = 0x40000, MAP_HUGE_2MB = 21 << 26;
    public static final int MADV_HUGEPAGE = 14;
    public static final int POLLIN = 0x1;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int SIG_BLOCK = 0;
    /** glibc's sigset_t is 1024 bits; the kernel's (and KVM_SET_SIGNAL_MASK's) is 64. */
    public static final int GLIBC_SIGSET_BYTES = 128;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = errnoCall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    // ioctl(int, unsigned long, ...): the third argument is variadic and must be a promoted type.
    private static final MethodHandle IOCTL_PTR = errnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_LONG = errnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = errnoCall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = errnoCall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MADVISE = errnoCall("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EVENTFD = errnoCall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = errnoCall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = errnoCall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle POLL = errnoCall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EPOLL_CREATE1 = errnoCall("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = errnoCall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = errnoCall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle PTHREAD_SELF = plainCall("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    // pthread_kill and pthread_sigmask return the error number instead of setting errno.
    private static final MethodHandle PTHREAD_KILL = plainCall("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PTHREAD_SIGMASK = plainCall("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGTIMEDWAIT = errnoCall("sigtimedwait",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle SIGNAL = plainCall("signal", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle SIGRTMIN = plainCall("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle STRERROR = plainCall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    /** One errno capture segment per thread, allocated once: no allocation on the exit path. */
    private static final ThreadLocal<MemorySegment> CAPTURE_SEGMENT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    private static MethodHandle errnoCall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    private static MethodHandle plainCall(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd);
    }

    private static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** The text of an errno value, as strerror(3) gives it. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cap = CAPTURE_SEGMENT.get();
            int fd = (int) OPEN.invokeExact(cap, arena.allocateFrom(path), flags, 0);
            if (fd < 0) throw new SyscallException("open(" + path + ")", errno(cap));
            return fd;
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void close(int fd) {
        try {
            int unused = (int) CLOSE.invokeExact(CAPTURE_SEGMENT.get(), fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** ioctl with a pointer argument; returns the non-negative result or throws naming {@code what}. */
    public static int ioctl(int fd, long request, MemorySegment arg, String what) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        int r;
        try {
            r = (int) IOCTL_PTR.invokeExact(cap, fd, request, arg);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r < 0) throw new SyscallException(what, errno(cap));
        return r;
    }

    /** ioctl with an integer argument. */
    public static int ioctl(int fd, long request, long arg, String what) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        int r;
        try {
            r = (int) IOCTL_LONG.invokeExact(cap, fd, request, arg);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r < 0) throw new SyscallException(what, errno(cap));
        return r;
    }

    /**
     * ioctl returning -errno instead of throwing, for KVM_RUN whose EINTR/EAGAIN are part of
     * normal operation.
     */
    public static int ioctlOrErrno(int fd, long request, long arg) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        try {
            int r = (int) IOCTL_LONG.invokeExact(cap, fd, request, arg);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * mmap of a file descriptor, MAP_SHARED, read/write. The segment belongs to {@code arena}:
     * closing the arena unmaps it, and later accesses throw instead of reaching freed memory.
     */
    public static MemorySegment mmapShared(int fd, long size, Arena arena, String what) {
        return mmap(size, MAP_SHARED, fd, 0L, arena, what);
    }

    /**
     * A private anonymous mapping with MAP_NORESERVE: zero-filled, and only the pages touched cost
     * memory. Closing {@code arena} unmaps it.
     */
    public static MemorySegment mmapAnonymous(long size, Arena arena, String what) {
        return mmap(size, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L, arena, what);
    }

    /**
     * A private anonymous mapping of 2 MiB hugetlbfs pages ({@code size} a multiple of 2 MiB),
     * reserved now: without MAP_NORESERVE the kernel takes every page from the huge page pool at
     * mmap (failing with ENOMEM if the pool is short) instead of killing the process with SIGBUS
     * at the first touch it cannot serve. Closing {@code arena} unmaps it.
     */
    public static MemorySegment mmapAnonymousHuge2M(long size, Arena arena, String what) {
        return mmap(size, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0L, arena, what);
    }

    /** madvise(2) over the whole of {@code segment}. */
    public static void madvise(MemorySegment segment, int advice, String what) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        int r;
        try {
            r = (int) MADVISE.invokeExact(cap, segment, segment.byteSize(), advice);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r < 0) throw new SyscallException(what, errno(cap));
    }

    /**
     * A private (copy-on-write) mapping of {@code size} bytes of a file from {@code offset}, with
     * MAP_NORESERVE: pages are read on first touch, writes stay in this process. Closing
     * {@code arena} unmaps it.
     */
    public static MemorySegment mmapPrivateFile(int fd, long offset, long size, Arena arena, String what) {
        return mmap(size, MAP_PRIVATE | MAP_NORESERVE, fd, offset, arena, what);
    }

    private static MemorySegment mmap(long size, int flags, int fd, long offset, Arena arena, String what) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        MemorySegment p;
        try {
            p = (MemorySegment) MMAP.invokeExact(cap, MemorySegment.NULL, size, PROT_READ | PROT_WRITE, flags, fd, offset);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (p.address() == -1L) throw new SyscallException(what, errno(cap));
        return p.reinterpret(size, arena, Libc::munmap);
    }

    private static void munmap(MemorySegment segment) {
        try {
            int unused = (int) MUNMAP.invokeExact(CAPTURE_SEGMENT.get(), segment, segment.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int eventfd(int initial, int flags) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(cap, initial, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (fd < 0) throw new SyscallException("eventfd", errno(cap));
        return fd;
    }

    /** read(2); returns bytes read, or -errno. */
    public static long read(int fd, MemorySegment buf, long len) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        try {
            long r = (long) READ.invokeExact(cap, fd, buf, len);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** write(2); returns bytes written, or -errno. */
    public static long write(int fd, MemorySegment buf, long len) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        try {
            long r = (long) WRITE.invokeExact(cap, fd, buf, len);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** poll(2) on {@code count} 8-byte pollfd structs; returns how many are ready, or -errno. */
    public static int poll(MemorySegment fds, long count, int timeoutMillis) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        try {
            int r = (int) POLL.invokeExact(cap, fds, count, timeoutMillis);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static final int EPOLL_CLOEXEC = 0x80000, EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLLIN = 0x1;
    /** struct epoll_event is packed on x86-64: u32 events, then u64 data at offset 4 (12 bytes). */
    public static final int EPOLL_EVENT_SIZE = 12;

    public static int epollCreate() {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        int fd;
        try {
            fd = (int) EPOLL_CREATE1.invokeExact(cap, EPOLL_CLOEXEC);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (fd < 0) throw new SyscallException("epoll_create1", errno(cap));
        return fd;
    }

    /** epoll_ctl(ADD or DEL) for EPOLLIN with {@code data} as the event's user data. */
    public static void epollCtl(int epfd, int op, int fd, long data) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ev = arena.allocate(EPOLL_EVENT_SIZE, 4);
            ev.set(ValueLayout.JAVA_INT_UNALIGNED, 0, EPOLLIN);
            ev.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, data);
            int r = (int) EPOLL_CTL.invokeExact(cap, epfd, op, fd, ev);
            if (r < 0) throw new SyscallException("epoll_ctl", errno(cap));
        } catch (SyscallException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** epoll_wait into {@code events} (room for {@code max} 12-byte events); returns the count, or -errno. */
    public static int epollWait(int epfd, MemorySegment events, int max, int timeoutMillis) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        try {
            int r = (int) EPOLL_WAIT.invokeExact(cap, epfd, events, max, timeoutMillis);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static long pthreadSelf() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void pthreadKill(long thread, int signal) {
        int r;
        try {
            r = (int) PTHREAD_KILL.invokeExact(thread, signal);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r != 0) throw new SyscallException("pthread_kill", r);
    }

    /** pthread_sigmask(how, set, old): {@code set}/{@code old} are glibc sigsets or NULL. */
    public static void pthreadSigmask(int how, MemorySegment set, MemorySegment old) {
        int r;
        try {
            r = (int) PTHREAD_SIGMASK.invokeExact(how, set, old);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (r != 0) throw new SyscallException("pthread_sigmask", r);
    }

    /** sigtimedwait with the given timespec; returns the signal number, or -errno (EAGAIN: none). */
    public static int sigtimedwait(MemorySegment set, MemorySegment timespec) {
        MemorySegment cap = CAPTURE_SEGMENT.get();
        try {
            int r = (int) SIGTIMEDWAIT.invokeExact(cap, set, MemorySegment.NULL, timespec);
            return r < 0 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sets a signal's disposition to SIG_IGN (value 1 in glibc). */
    public static void ignoreSignal(int signal) {
        try {
            MemorySegment unused = (MemorySegment) SIGNAL.invokeExact(signal, MemorySegment.ofAddress(1L));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int sigrtmin() {
        try {
            return (int) SIGRTMIN.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sets bit {@code signal} in a sigset laid out as the kernel does (bit signal-1 of a u64 array). */
    public static void sigaddset(MemorySegment set, int signal) {
        long word = (signal - 1) / 64;
        long bit = 1L << ((signal - 1) % 64);
        set.set(ValueLayout.JAVA_LONG_UNALIGNED, word * 8, set.get(ValueLayout.JAVA_LONG_UNALIGNED, word * 8) | bit);
    }

    /** Clears bit {@code signal} in a sigset. */
    public static void sigdelset(MemorySegment set, int signal) {
        long word = (signal - 1) / 64;
        long bit = 1L << ((signal - 1) % 64);
        set.set(ValueLayout.JAVA_LONG_UNALIGNED, word * 8, set.get(ValueLayout.JAVA_LONG_UNALIGNED, word * 8) & ~bit);
    }
}
