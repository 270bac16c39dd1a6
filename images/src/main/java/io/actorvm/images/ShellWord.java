package io.actorvm.images;

import java.util.regex.Pattern;

/** One word for a POSIX shell command line: left as it is when that is safe, single-quoted otherwise. */
public final class ShellWord {
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_./%+:=@,-]+");

    private ShellWord() {}

    public static String quote(String s) {
        return SAFE.matcher(s).matches() ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}
