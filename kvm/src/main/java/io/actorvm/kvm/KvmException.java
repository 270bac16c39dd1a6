package io.actorvm.kvm;

/** A failed system call or ioctl: names the call and carries errno and its text. */
public final class KvmException extends RuntimeException {
    private final int errno;

    public KvmException(String call, int errno) {
        super(call + " failed: " + Libc.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
