package io.actorvm.kvm;

/** KVM cannot be used on this host; the message is a one-line reason meant for users. */
public final class KvmUnavailableException extends RuntimeException {
    public KvmUnavailableException(String reason) {
        super(reason);
    }
}
