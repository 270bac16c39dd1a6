#!/bin/sh
# /init of the emulated KVM host (L1), written by 'actorvm kvm-host'.
#
# It turns a Debian kernel with kvm_amd into a copy of the machine that started it: the machine's
# root (a read-only 9p share) under a tmpfs overlay, its work tree and caches (writable 9p shares)
# at their own paths, fresh /proc, /sys, /dev, /tmp, /run. Then it runs the command that the
# control share (/ctl) describes, with the command's stdout and stderr on two virtio serial ports,
# writes its exit status to /ctl/status and powers off.
export PATH=/sbin:/bin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
# busybox links its applets into /bin, /sbin, /usr/bin and /usr/sbin; the last two must exist.
/bin/busybox mkdir -p /usr/bin /usr/sbin
/bin/busybox --install -s

say() { echo "kvm-host: $*"; }
fail() { say "$*"; echo "$*" > /ctl/failure 2>/dev/null; sync; poweroff -f; sleep 10; }

for m in $(cat /modules); do
    insmod "$m" || say "insmod $m failed"
done

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap ctl /ctl || fail "cannot mount the control share"
. /ctl/mounts.sh

mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose root /lower || fail "cannot mount the host's root"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "cannot mount the overlay root"

mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/dev/virtio-ports
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
ln -sf pts/ptmx /newroot/dev/ptmx
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t tmpfs -o mode=1777 tmp /newroot/tmp
mount -t tmpfs -o mode=0755 run /newroot/run
mkdir -p /newroot/run/kvm-host /newroot/run/lock /newroot/run/netns
mount --bind /ctl /newroot/run/kvm-host

# After the tmpfs mounts above, so that a work tree under /tmp or /run is not hidden by them.
# Writable shares, declared by /ctl/mounts.sh as "tag path" lines in $WRITABLE.
echo "$WRITABLE" | while read -r tag path; do
    [ -n "$tag" ] || continue
    mkdir -p "/newroot$path"
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap "$tag" "/newroot$path" || fail "cannot mount $path"
done

if [ -d /sys/fs/cgroup ]; then mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null; fi

for p in /sys/class/virtio-ports/*; do
    [ -e "$p/name" ] && ln -sf "../$(basename "$p")" "/newroot/dev/virtio-ports/$(cat "$p/name")"
done
[ -e /newroot/dev/kvm ] || fail "no /dev/kvm: kvm_amd did not load ($(dmesg | grep -i -m1 -e svm -e kvm))"
chmod 0666 /newroot/dev/kvm
ip link set lo up
hostname kvm-host

# A heartbeat on the console: the tool that started this host counts five silent minutes as a hang (and first tries an NMI)
# (and the last one before a failure shows the load and the memory left).
(
    while sleep 60; do
        say "alive: up $(cut -d' ' -f1 /proc/uptime) s, load $(cut -d' ' -f1-3 /proc/loadavg), $(grep MemAvailable /proc/meminfo | tr -s ' ')"
    done
) &

say "running the command"
chroot /newroot /usr/bin/env -i /bin/sh -c '. /run/kvm-host/env.sh; . /run/kvm-host/command.sh' \
    </dev/null >/newroot/dev/virtio-ports/stdout 2>/newroot/dev/virtio-ports/stderr
status=$?
echo "$status" > /ctl/status.new && mv /ctl/status.new /ctl/status
say "command exit status $status"
sync
poweroff -f
