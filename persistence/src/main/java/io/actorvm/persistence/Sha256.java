package io.actorvm.persistence;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 with one reusable {@link MessageDigest} per thread; hashes as 64 lowercase hex digits. */
public final class Sha256 {
    public static final int BYTES = 32;
    private static final HexFormat HEX = HexFormat.of();

    private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JDK has no SHA-256", e);
        }
    });

    private Sha256() {
    }

    public static byte[] digest(byte[] content) {
        MessageDigest md = DIGEST.get();
        md.reset();
        return md.digest(content);
    }

    /** The digest of the buffer's remaining bytes; the buffer's position is left unchanged. */
    public static byte[] digest(ByteBuffer content) {
        MessageDigest md = DIGEST.get();
        md.reset();
        md.update(content.duplicate());
        return md.digest();
    }

    public static byte[] digest(MemorySegment content) {
        return digest(content.asByteBuffer());
    }

    public static String hex(byte[] content) {
        return toHex(digest(content));
    }

    public static String hex(MemorySegment content) {
        return toHex(digest(content));
    }

    public static String toHex(byte[] digest) {
        return HEX.formatHex(digest);
    }

    /** The 32 bytes of a hash given as hex; throws IllegalArgumentException when it is not one. */
    public static byte[] fromHex(String hash) {
        requireValid(hash);
        return HEX.parseHex(hash);
    }

    /** True for exactly 64 lowercase hex digits (the only form used as a file name). */
    public static boolean isValid(String hash) {
        if (hash == null || hash.length() != 2 * BYTES) return false;
        for (int i = 0; i < hash.length(); i++) {
            char c = hash.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        }
        return true;
    }

    static String requireValid(String hash) {
        if (!isValid(hash)) throw new IllegalArgumentException("not a SHA-256 hash (64 lowercase hex digits): '" + hash + "'");
        return hash;
    }
}
