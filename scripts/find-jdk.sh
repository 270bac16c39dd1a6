# Sourced by ./mvnw and ./actorvm (POSIX sh): points JAVA_HOME at a JDK 25 or newer.
# Order: JAVA_HOME if it is already 25+, then the newest JDK 25+ under /usr/lib/jvm.
# The default `java` on our hosts is 17, so PATH is deliberately not consulted.
actorvm_jdk_major() {
  # Prints the feature version of the JDK at $1 (e.g. 25), or nothing.
  [ -x "$1/bin/javac" ] || return 0
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null
}
actorvm_find_jdk() {
  if [ -n "${JAVA_HOME-}" ]; then
    v=$(actorvm_jdk_major "$JAVA_HOME")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then return 0; fi
  fi
  best=""; bestv=0
  # ./mvnw runs under `set -f`; the glob below needs expansion.
  case $- in *f*) set +f; actorvm_noglob=1 ;; esac
  for d in /usr/lib/jvm/*; do
    v=$(actorvm_jdk_major "$d")
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  if [ -n "${actorvm_noglob-}" ]; then set -f; fi
  if [ -z "$best" ]; then
    echo "actorvm: no JDK 25 or newer found (set JAVA_HOME to one, or install it under /usr/lib/jvm)" >&2
    exit 2
  fi
  JAVA_HOME=$best
  export JAVA_HOME
}
actorvm_find_jdk
