#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# vm.sh SERIES GROUP: boot Debian 12's stock SERIES kernel (6.1 or 6.12)
# under qemu (TCG) with this machine's root as the guest's read-only root,
# run the tests tests/vm/plan lists for SERIES and GROUP inside it, and
# report each as one TAP line naming the kernel version.  See tests/vm/README.
#
# The kernel package (the newest linux-image-6.1.0-*-amd64-unsigned or
# linux-image-6.12.*+deb12-amd64-unsigned apt knows) is fetched with
# `apt-get download`, unpacked with `dpkg-deb -x` into $POSTERN_VM_CACHE
# (default /var/cache/postern-vm, kept between runs) and never installed.
# One qemu at a time, a timeout per boot, one retry when the guest does not
# come up; qemu is killed on every way out.  Skips (TAP "1..0 # SKIP") without
# root, qemu, busybox-static, cpio, kmod, or a kernel package.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${POSTERN_SOURCE_ROOT:-$(cd "$HERE/../.." && pwd)}
BUILD=${POSTERN_BUILD_ROOT:-$SRC/build}
CACHE=${POSTERN_VM_CACHE:-/var/cache/postern-vm}
PLAN=${POSTERN_VM_PLAN:-$HERE/plan}
BOOT_TIMEOUT=${POSTERN_VM_BOOT_TIMEOUT:-90} # qemu start → guest.sh running
SLOWDOWN=${POSTERN_VM_SLOWDOWN:-3}          # meson's timeout × this inside the VM
RUN_TIMEOUT=${POSTERN_VM_TIMEOUT:-900}      # qemu start → poweroff, at most (meson's is 1200)
MEM=${POSTERN_VM_MEM:-1536}
CPUS=${POSTERN_VM_CPUS:-2}                  # vCPUs = parallel test streams in the guest
CPU=${POSTERN_VM_CPU:-qemu64}
APPEND=${POSTERN_VM_APPEND:-}
# The guest mounts a tmpfs on /tmp: a tree that lives there (a CI clone in
# /tmp) would vanish behind it.  init keeps these paths visible (postern.keep).
KEEP=""
for d in "$SRC" "$BUILD"; do
        case $d in "$SRC"/*) continue ;; /tmp/*) KEEP="$KEEP${KEEP:+,}$d" ;; esac
done
[ -z "$KEEP" ] || APPEND="$APPEND postern.keep=$KEEP"
SERIES=${1:?usage: vm.sh SERIES GROUP}
GROUP=${2:?usage: vm.sh SERIES GROUP}
PY=/usr/bin/python3

S="" QPID="" LOGDIR=$BUILD/meson-logs/vm/$SERIES-$GROUP
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
note() { echo "# $*"; }

qemu_kill() {
        [ -n "$QPID" ] || return 0
        kill -TERM "$QPID" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$QPID" 2>/dev/null
        wait "$QPID" 2>/dev/null
        QPID=""
}
IRCOPY=""
cleanup() {
        qemu_kill
        [ -z "$IRCOPY" ] || rm -f "$IRCOPY"
        if [ -n "$S" ] && [ -d "$S" ]; then
                rm -rf "$LOGDIR" && mkdir -p "$LOGDIR" && cp -r "$S/." "$LOGDIR/" 2>/dev/null
                rm -rf "$S"
        fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ "$GROUP" = extra ] && [ "${POSTERN_VM_EXTRA:-}" != 1 ]; then
        skip_all "the extra group runs with POSTERN_VM_EXTRA=1 only (it does not fit the vm suite's 10 minutes)"
fi

# --- what is needed -------------------------------------------------------
[ "$(id -u)" = 0 ] || skip_all "needs root (9p passthrough of the host's root, network namespaces in the guest)"
QEMU=$(command -v qemu-system-x86_64) || skip_all "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
for c in cpio depmod modprobe apt-get apt-cache dpkg-deb xz gzip; do
        command -v "$c" >/dev/null || skip_all "no $c (tools/install-deps)"
done
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
        skip_all "no static /bin/busybox (apt-get install busybox-static)"
fi
[ -r "$BUILD/meson-info/intro-tests.json" ] || skip_all "no meson build tree at $BUILD"

case $SERIES in
6.1) pat='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
6.12) pat='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
*) echo "vm.sh: unknown kernel series $SERIES" >&2; exit 2 ;;
esac

# --- the kernel: fetched once, unpacked, kept in the cache ----------------
mkdir -p "$CACHE" || skip_all "cannot create $CACHE"
exec 9>"$CACHE/.lock"
flock -w 600 9 || skip_all "$CACHE is locked by another run"

pkg=$(apt-cache search --names-only "$pat" 2>/dev/null | cut -d' ' -f1 | sort -V | tail -1)
ver=""
if [ -n "$pkg" ]; then
        ver=${pkg#linux-image-}
        ver=${ver%-unsigned}
fi
if [ -n "$ver" ] && [ ! -f "$CACHE/$ver/ok" ]; then
        note "fetching $pkg (apt-get download; not installed)"
        rm -rf "$CACHE/$ver" "$CACHE/dl"
        mkdir -p "$CACHE/dl"
        if (cd "$CACHE/dl" && apt-get download -q "$pkg" >download.log 2>&1) &&
                dpkg-deb -x "$CACHE"/dl/*.deb "$CACHE/dl/kdir" &&
                depmod -b "$CACHE/dl/kdir" "$ver"; then
                mkdir -p "$CACHE/$ver"
                mv "$CACHE/dl/kdir" "$CACHE/$ver/kdir"
                ls "$CACHE"/dl/*.deb | xargs -n1 basename >"$CACHE/$ver/package"
                touch "$CACHE/$ver/ok"
                # older kernels of the same series are not needed any more
                for d in "$CACHE"/*/; do
                        d=${d%/}
                        o=$(basename "$d")
                        [ "$o" != "$ver" ] && [ -f "$d/ok" ] && [ "$(cat "$d/series" 2>/dev/null)" = "$SERIES" ] && rm -rf "$d"
                done
                echo "$SERIES" >"$CACHE/$ver/series"
        else
                note "download of $pkg failed: $(tail -1 "$CACHE/dl/download.log" 2>/dev/null)"
                ver=""
        fi
        rm -rf "$CACHE/dl"
fi
if [ -z "$ver" ]; then
        # offline: the newest of this series already in the cache
        for d in "$CACHE"/*/ok; do
                [ -f "$d" ] || continue
                d=$(dirname "$d")
                [ "$(cat "$d/series" 2>/dev/null)" = "$SERIES" ] && ver=$(basename "$d")
        done
        [ -n "$ver" ] || skip_all "no $SERIES kernel package: apt-cache has no $pat and $CACHE holds none"
        note "apt has no $SERIES kernel package now; using the cached $ver"
fi
KDIR=$CACHE/$ver/kdir
VMLINUZ=$KDIR/boot/vmlinuz-$ver
[ -r "$VMLINUZ" ] || skip_all "$VMLINUZ missing (remove $CACHE/$ver to fetch again)"

# --- the initramfs: busybox, /init, the virtio + 9p modules ----------------
sum=$( (cat "$HERE/init" /bin/busybox; grep 'for m in virtio_pci' "$HERE/vm.sh") | sha256sum | cut -c1-12)
INITRD=$CACHE/$ver/initrd-$sum.img
if [ ! -f "$INITRD" ]; then
        rm -f "$CACHE/$ver"/initrd-*.img
        ir=$(mktemp -d /tmp/postern-vm-initrd.XXXXXX)
        mkdir -p "$ir/bin" "$ir/modules"
        cp /bin/busybox "$ir/bin/busybox"
        cp "$HERE/init" "$ir/init"
        chmod 755 "$ir/init"
        : >"$ir/modules/order"
        for m in virtio_pci 9pnet_virtio 9p overlay; do
                modprobe -d "$KDIR" -S "$ver" --show-depends "$m" 2>/dev/null | sed -n 's/^insmod \([^ ]*\).*/\1/p'
        done | awk '!seen[$0]++' | while read -r ko; do
                b=$(basename "$ko")
                case $b in
                *.xz) xz -dc "$ko" >"$ir/modules/${b%.xz}"; b=${b%.xz} ;;
                *.zst) zstd -dcq "$ko" >"$ir/modules/${b%.zst}"; b=${b%.zst} ;;
                *) cp "$ko" "$ir/modules/$b" ;;
                esac
                echo "$b" >>"$ir/modules/order"
        done
        (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD.tmp" && mv "$INITRD.tmp" "$INITRD"
        rm -rf "$ir"
fi
# a copy of our own: another tree's run (another init) replaces the cached
# one, possibly between this run's two boots
IRCOPY=$(mktemp /tmp/postern-vm-initrd.XXXXXX)
cp "$INITRD" "$IRCOPY" && INITRD=$IRCOPY
exec 9>&- # the cache is ready: let the next run in

# --- the plan: which tests, and how meson would run each -------------------
S=$(mktemp -d /tmp/postern-vm.XXXXXX)
chmod 755 "$S"
# POSTERN_VM_TESTS="vm/iptables-cold traffic/seed-002": only these of the plan
awk -v s="$SERIES" -v g="$GROUP" -v only="${POSTERN_VM_TESTS:-}" '
        BEGIN { n = split(only, o, " "); for (i = 1; i <= n; i++) want[o[i]] = 1 }
        !/^[ \t]*(#|$)/ && $1 == s && $2 == g && (n == 0 || $3 in want) {
        r = ""; for (i = 5; i <= NF; i++) r = r (r == "" ? "" : " ") $i
        printf "%s\t%s\t%s\n", $3, $4, r }' "$PLAN" >"$S/tests"
[ -s "$S/tests" ] || skip_all "tests/vm/plan lists nothing for $SERIES $GROUP${POSTERN_VM_TESTS:+ among $POSTERN_VM_TESTS}"
loads=$("$PY" "$HERE/plan.py" "$BUILD/meson-info/intro-tests.json" "$S/tests" "$SLOWDOWN" "$CPUS" \
        "$CACHE/durations" "$SERIES" "$S" "$HERE" "$SRC" "$BUILD" 2>"$S/plan.err") ||
        { cat "$S/plan.err"; exit 1; }
total_to=$(cat "$S"/plan-*.sh | awk '$1 == "run_test" { s += $4 } END { print s + 0 }')
if [ -n "${POSTERN_VM_DEBUG:-}" ]; then
        # development aid: run this script in the guest instead of the plan;
        # its output is in meson-logs/vm/SERIES-GROUP/results/debug.log; it
        # finds the tree and the build in $SRC and $BUILD, results go in $R
        { printf 'SRC=%q BUILD=%q R=%q\n' "$SRC" "$BUILD" /run/vm/scratch/results; cat "$POSTERN_VM_DEBUG"; } \
                >"$S/debug.sh"
fi
cat >"$S/boot.sh" <<EOF
#!/bin/sh
/bin/bash $HERE/guest.sh /run/vm/scratch $CPUS >/dev/console 2>&1
sync
/bin/busybox poweroff -f
echo o >/proc/sysrq-trigger
EOF

# --- boot: at most twice when the guest does not come up -----------------
# boot_vm TAG MARKER BOOT_S RUN_S APPEND: qemu until the guest powers off;
# MARKER (a scratch file the guest writes when its tests start) must appear
# within BOOT_S, then the guest has RUN_S more seconds (at most RUN_TIMEOUT
# from qemu's start).  Sets boot_ms, run_ms, attempt, why.
boot_vm() {
        local tag=$1 marker=$2 boot_s=$3 run_s=$4 append=$5 t t0 deadline=0
        boot_ms="" run_ms="" attempt=0 why=""
        while [ $attempt -lt 2 ] && [ -z "$boot_ms" ]; do
                attempt=$((attempt + 1))
                [ -z "$tag" ] && rm -rf "$S/results"
                rm -f "$marker"
                t0=$(now_ms)
                "$QEMU" -accel tcg -machine pc -cpu "$CPU" -m "$MEM" -smp "$CPUS" -nodefaults -vga none -display none \
                        -no-reboot -serial "file:$S/console$tag-$attempt.log" -nic none \
                        -kernel "$VMLINUZ" -initrd "$INITRD" \
                        -append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init $APPEND$append" \
                        -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
                        -virtfs "local,path=$KDIR,mount_tag=kernel,security_model=none,readonly=on,multidevs=remap" \
                        -virtfs "local,path=$S,mount_tag=scratch,security_model=none,multidevs=remap" \
                        </dev/null >"$S/qemu$tag-$attempt.log" 2>&1 &
                QPID=$!
                why="qemu exited before the guest ran its tests"
                while kill -0 "$QPID" 2>/dev/null; do
                        t=$(now_ms)
                        if [ -z "$boot_ms" ]; then
                                if [ -f "$marker" ]; then
                                        boot_ms=$((t - t0))
                                        deadline=$((t + run_s * 1000))
                                        [ "$deadline" -gt $((t0 + RUN_TIMEOUT * 1000)) ] && deadline=$((t0 + RUN_TIMEOUT * 1000))
                                elif [ $((t - t0)) -gt $((boot_s * 1000)) ]; then
                                        why="no guest after ${boot_s}s"
                                        break
                                fi
                        elif [ "$t" -gt "$deadline" ]; then
                                why="the guest ran past its deadline (${RUN_TIMEOUT}s or the sum of the tests' timeouts)"
                                break
                        fi
                        sleep 0.25
                done
                qemu_kill
                run_ms=$(($(now_ms) - t0))
                [ -z "$boot_ms" ] && note "boot $attempt$tag of $ver failed: $why; console:" &&
                        tail -15 "$S/console$tag-$attempt.log" | sed 's/^/#   /'
        done
}
boot_vm "" "$S/started" "$BOOT_TIMEOUT" $((total_to + 30)) ""
main=("$boot_ms" "$run_ms" "$attempt" "$why")

# vm/systemd (plan.py: SCRATCH/boot-systemd holds its number): a boot of its
# own, systemd as PID 1 on an overlay root (init: postern.systemd=1;
# tests/vm/systemd/); it writes results/N.rc itself, or this does
if [ -s "$S/boot-systemd" ]; then
        n=$(cat "$S/boot-systemd")
        printf '#!/bin/sh\nexec /bin/bash %s/systemd/prepare.sh /run/vm/scratch %s %s %s >/dev/console 2>&1\n' \
                "$HERE" "$n" "$SRC" "$BUILD" >"$S/boot-systemd.sh"
        mkdir -p "$S/results"
        # systemd takes longer than busybox to get there (90 s with three
        # qemus on these 2 cores): twice the boot timeout; its status lines on
        # the console show where a boot that never gets there stopped
        boot_vm -systemd "$S/started-systemd" $((BOOT_TIMEOUT * 2)) 330 \
                " postern.systemd=1 systemd.unit=postern-vm.target systemd.show_status=1"
        if [ ! -f "$S/results/$n.rc" ]; then
                { echo "the systemd boot did not report: $why ($attempt attempts); console:"
                  tail -40 "$S/console-systemd-$attempt.log"; } >"$S/results/$n.log"
                echo "1 $(secs "$run_ms")" >"$S/results/$n.rc"
        fi
fi
boot_ms=${main[0]} run_ms=${main[1]} attempt=${main[2]} why=${main[3]}

# --- report ----------------------------------------------------------------
ntests=$(wc -l <"$S/tests")
echo "1..$((ntests + 2))"
if [ -z "$boot_ms" ]; then
        echo "not ok 1 - $ver boot: $why (2 attempts)"
else
        echo "ok 1 - $ver boot: $(secs "$boot_ms") s to the test runner (guest uptime $(cut -d' ' -f2 "$S/started") s), whole run $(secs "$run_ms") s, $CPUS vCPUs$([ $attempt = 2 ] && echo ", second attempt")"
fi
n=0
while IFS=$'\t' read -r name expect reason; do
        n=$((n + 1))
        label="$ver $name"
        if [ ! -f "$S/results/$n.rc" ]; then
                if [ "$expect" = xfail ]; then echo "not ok $((n + 1)) - $label: not run # TODO $reason"
                else echo "not ok $((n + 1)) - $label: not run ($why)"; fi
                continue
        fi
        read -r rc dur <"$S/results/$n.rc"
        label="$label ($dur s)"
        if [ "$rc" = 77 ]; then
                echo "ok $((n + 1)) - $label # SKIP $(grep -m1 -i 'skip' "$S/results/$n.log" | cut -c1-200)"
        elif [ "$expect" = xfail ]; then
                if [ "$rc" = 0 ]; then echo "ok $((n + 1)) - $label: passed, expected to fail # TODO $reason"
                else echo "not ok $((n + 1)) - $label: exit $rc # TODO $reason"; fi
        elif [ "$rc" = 0 ]; then
                echo "ok $((n + 1)) - $label"
                # measured figures a test prints ("figure: ...") go along
                grep '^figure: ' "$S/results/$n.log" | sed 's/^/#   /'
        else
                echo "not ok $((n + 1)) - $label: exit $rc$([ "$rc" = 124 ] && echo ' (timed out)')"
                tail -25 "$S/results/$n.log" | sed 's/^/#   /'
                # and on stderr, which meson's --print-errorlogs shows (it
                # shows no TAP comment lines): a CI run's record says why
                { echo "== $label: exit $rc; the end of its log:"
                  tail -40 "$S/results/$n.log"; } >&2
        fi
done <"$S/tests"
n=$((ntests + 2))
if [ ! -f "$S/results/left" ]; then
        echo "not ok $n - $ver nothing left behind: the guest did not finish"
elif [ -s "$S/results/left" ]; then
        echo "not ok $n - $ver nothing left behind: network namespaces or processes remain"
        sed 's/^/#   /' "$S/results/left"
else
        echo "ok $n - $ver nothing left behind (no network namespace, no process)"
fi
note "expected stream loads (s): $loads"

# what each test took, for the next run's streams
{
        flock -w 30 9 || exit 0
        n=0
        while IFS=$'\t' read -r name _; do
                n=$((n + 1))
                [ -f "$S/results/$n.rc" ] || continue
                read -r _ dur <"$S/results/$n.rc"
                grep -v "^$SERIES $name " "$CACHE/durations" 2>/dev/null >"$CACHE/durations.new"
                echo "$SERIES $name $dur" >>"$CACHE/durations.new"
                mv "$CACHE/durations.new" "$CACHE/durations"
        done <"$S/tests"
} 9>"$CACHE/.lock"
note "logs: $LOGDIR"
exit 0
