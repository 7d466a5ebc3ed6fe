#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the package in a clean Debian 12 root and check what an
# administrator relies on.  By hand, not in CI (debootstrap takes minutes):
#
#   debootstrap --variant=minbase bookworm ROOT http://deb.debian.org/debian
#   tests/package/chroot-install.sh ROOT ../postern_0.1.0_amd64.deb
#
# In ROOT (a copy is not made: use a throwaway root): dpkg -i + apt-get -f
# install (as on a real host: Depends and Recommends from the archive), then
#   - the files, conffiles, the unit registered but neither enabled nor started;
#   - man posternctl renders;
#   - the default policy checks with the installed catalog (no --catalog);
#   - the ppp hooks with postern.service disabled: exit 0, no table in the
#     kernel, a debug line "nothing to do" to /dev/log;
#   - enabled (systemctl enable, offline in the chroot: systemd is not PID 1):
#     the hook applies /etc/postern/postern.conf once and says why; the
#     installed table lets SSH in.
# Everything that touches the kernel runs in `unshare -n` (a new, empty
# network namespace) and a private mount namespace (proc, /dev/log).
set -u
root=$(realpath "${1:?usage: chroot-install.sh ROOT DEB}")
deb=$(realpath "${2:?usage: chroot-install.sh ROOT DEB}")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$root/usr/bin/apt-get" ] || { echo "FAIL: $root is not a Debian root"; exit 1; }
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok() { echo "ok   $*"; }
# in ROOT, private mounts (proc); network namespace of this machine (apt)
inroot() { unshare -m --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root" "$@"; }

echo "== $(cat "$root/etc/debian_version") root $root: dpkg -i $(basename "$deb"), apt-get -f install"
cp "$deb" "$root/tmp/postern.deb"
inroot env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/postern.deb >"$root/tmp/dpkg.log" 2>&1 &&
        echo "(all dependencies were there)"
inroot env DEBIAN_FRONTEND=noninteractive apt-get -q -y -f install >"$root/tmp/apt.log" 2>&1 ||
        { cat "$root/tmp/dpkg.log" "$root/tmp/apt.log"; fail "apt-get -f install"; exit 1; }
grep -E "^(Setting up|Unpacking) " "$root/tmp/apt.log" | sed 's/^/   /'
grep "^postern: " "$root/tmp/dpkg.log" "$root/tmp/apt.log" | sed 's/^[^:]*:/   postinst says: /'
st=$(inroot dpkg-query -W -f='${Status} ${Version}' postern)
[ "${st% *}" = "install ok installed" ] && ok "postern ${st##* } installed" || fail "postern: $st"

for f in /usr/sbin/posternd /usr/sbin/posternctl /usr/share/postern/services.conf /etc/postern/postern.conf \
        /lib/systemd/system/postern.service /usr/share/dbus-1/system.d/org.postern1.conf \
        /etc/ppp/ip-up.d/postern /etc/ppp/ip-down.d/postern /etc/ppp/ipv6-up.d/postern \
        /usr/share/man/man8/posternctl.8.gz /usr/share/bash-completion/completions/posternctl; do
        [ -e "$root$f" ] || fail "missing $f"
done
ok "files in place"
inroot dpkg-query --showformat='${Conffiles}\n' --show postern | grep -q '/etc/postern/postern.conf' &&
        ok "/etc/postern/postern.conf is a conffile" || fail "/etc/postern/postern.conf is not a conffile"

if inroot sh -c 'command -v systemctl' >/dev/null; then
        en=$(inroot systemctl is-enabled postern.service 2>&1)
        [ "$en" = disabled ] && ok "postern.service is $en" || fail "postern.service is '$en' after install, expected disabled"
fi
[ -e "$root/etc/systemd/system/multi-user.target.wants/postern.service" ] && fail "postern.service enabled on install"

if inroot sh -c 'command -v man' >/dev/null; then
        out=$(inroot env MANWIDTH=80 man posternctl 2>&1)
        if echo "$out" | grep -q "posternctl - check, compile and install postern firewall policies"; then
                ok "man posternctl renders ($(echo "$out" | wc -l) lines)"
        else fail "man posternctl: $(echo "$out" | head -3)"; fi
else
        echo "(no man-db in the root: apt-get install man-db to check man posternctl)"
fi

out=$(inroot posternctl check /etc/postern/postern.conf 2>&1) && ok "posternctl check (installed catalog): $out" ||
        fail "posternctl check /etc/postern/postern.conf: $out"

# /dev/log in the root: a datagram socket this script reads
log=$(mktemp)
python3 - "$root/tmp/postern-devlog" "$log" <<'PY' &
import socket, sys, os
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try: os.unlink(path)
except FileNotFoundError: pass
s.bind(path); os.chmod(path, 0o666)
s.settimeout(60)
with open(out, "a") as f:
    try:
        while True:
            m = s.recv(65536).decode(errors="replace")
            if m == "postern-test-stop": break
            f.write(m + "\n"); f.flush()
    except socket.timeout: pass
os.unlink(path)
PY
LOGPID=$!
for _ in $(seq 1 50); do [ -S "$root/tmp/postern-devlog" ] && break; sleep 0.1; done
# hook NAME: run /etc/ppp/NAME.d/postern as Debian's /etc/ppp/NAME does
# (run-parts, PPP_IFACE), in a new network namespace with ppp0-like dummy0
hook() {
        unshare -m -n --propagation private sh -c '
                r=$0; h=$1
                mount -t proc proc "$r/proc"
                touch "$r/dev/log" 2>/dev/null; mount --bind "$r/tmp/postern-devlog" "$r/dev/log"
                chroot "$r" /usr/bin/env -i PPP_IFACE=ppp0 /etc/ppp/$h.d/postern ppp0 /dev/ttyS0 115200 198.18.0.1 198.18.0.2 ""
                echo "exit $?"
                chroot "$r" /usr/sbin/posternctl show 2>&1 | sed -n "/table inet postern/p; /dport 22/p"
        ' "$root" "$1" 2>&1
}

if inroot sh -c 'command -v systemctl' >/dev/null; then
        echo "== ppp hooks with postern.service disabled (and not running: systemd is not PID 1 here)"
else
        echo "== ppp hooks without systemd in the root (apt-get install systemd for the enabled case)"
fi
for h in ip-up ip-down ipv6-up; do
        out=$(hook $h)
        case $out in "exit 0"*"table inet postern does not exist"*) ok "$h: exit 0, no table in the kernel" ;;
        *) fail "$h: $out" ;; esac
done
sleep 0.3
grep -q "postern-ppp: ip-up ppp0: postern.service is [^ ]* .*: nothing to do" "$log" &&
        ok "logged at debug: $(grep -m1 'ip-up ppp0' "$log" | sed 's/^<[0-9]*>//')" || fail "no debug line: $(cat "$log")"
grep -q '^<31>' "$log" && ok "priority daemon.debug (<31>)" || fail "not daemon.debug: $(head -1 "$log")"

if inroot sh -c 'command -v systemctl' >/dev/null; then
        echo "== systemctl enable postern (offline): the hook applies the policy once"
        inroot systemctl enable postern.service 2>&1 | sed 's/^/   /'
        : >"$log"
        out=$(hook ip-up)
        echo "$out" | sed 's/^/   /'
        echo "$out" | grep -q "^exit 0" || fail "ip-up with the unit enabled: $out"
        echo "$out" | grep -q "tcp dport 22" && ok "default policy installed by the hook: SSH open" ||
                fail "no SSH rule in the table the hook installed"
        sleep 0.3
        grep -q "postern.service is enabled, systemd does not say whether it runs" "$log" &&
                ok "logged why: $(sed 's/^<[0-9]*>//' "$log" | head -1 | cut -c1-160)" || fail "the apply is not logged: $(cat "$log")"
        inroot systemctl disable postern.service 2>&1 | sed 's/^/   /'
fi
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"postern-test-stop", sys.argv[1])' \
        "$root/tmp/postern-devlog" 2>/dev/null
wait "$LOGPID"
rm -f "$log" "$root/tmp/postern.deb"
[ $failed = 0 ] && echo "PASS: installed in a clean $(cat "$root/etc/debian_version") root"
exit $failed
