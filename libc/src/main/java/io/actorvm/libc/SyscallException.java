package io.actorvm.libc;

/** A failed system call or ioctl: names the call and carries errno and its text. */
public final class SyscallException extends RuntimeException {
    private final int errno;

    public SyscallException(String call, int errno) {
        super(call + " failed: " + Libc.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
