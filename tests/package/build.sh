#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# package suite: the Debian package, built as a Debian developer would
# (dpkg-buildpackage -us -uc -b) from a copy of the source tree in a
# temporary directory (the tree itself is never written to), then:
#   - lintian: no error (every tag is printed; warnings must be explained in
#     debian/README.source or fixed);
#   - the files, conffiles and Depends an administrator relies on;
#   - no build-tree path in any installed file;
#   - the ppp hooks fully substituted, the unit with Documentation=, the
#     maintainer scripts never enabling or starting postern on install;
#   - man posternctl renders from the package.
# Skips (77) without dpkg-buildpackage, debhelper or lintian (tools/install-deps
# installs them).
set -u
src=${POSTERN_SOURCE_ROOT:?}
skip() { echo "SKIP: $*"; exit 77; }
for t in dpkg-buildpackage dh lintian fakeroot; do
        command -v "$t" >/dev/null || skip "no $t (apt-get install dpkg-dev debhelper lintian fakeroot)"
done
tmp=$(mktemp -d /tmp/postern-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# the source: what git tracks plus new files it does not ignore (the
# working tree as it is, not the last commit), else everything but build dirs
mkdir "$tmp/postern"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$src" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
                [ -e "$f" ] && printf '%s\0' "$f"; done | cpio -0pdm --quiet "$tmp/postern") || exit 99
else
        tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$tmp/postern" -xf - || exit 99
fi
before=$(cd "$src" && git status --porcelain 2>/dev/null)
missing=$(cd "$tmp/postern" && dpkg-checkbuilddeps 2>&1) ||
        skip "build dependencies missing (tools/install-deps installs them): ${missing##*: }"

echo "== dpkg-buildpackage -us -uc -b (in $tmp)"
t0=$SECONDS
# nothing of this test run's environment leaks into the package's own tests
if ! (cd "$tmp/postern" && env -u POSTERN_SOURCE_ROOT -u POSTERN_BUILD_ROOT -u POSTERNCTL -u POSTERN_CATALOG \
        -u MESON_TESTTHREADS DEB_BUILD_OPTIONS="parallel=2" \
        dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
        tail -40 "$tmp/build.log"
        echo "FAIL: dpkg-buildpackage"
        exit 1
fi
echo "built in $((SECONDS - t0)) s: $(cd "$tmp" && ls ./*.deb | tr '\n' ' ')"
grep -E '^(Ok|Fail|Skipped): ' "$tmp/build.log" | tr -s ' ' | paste -sd' ' | sed 's/^/package build tests: /'
deb=$(ls "$tmp"/postern_*.deb)

echo "== lintian"
lintian --pedantic -I --fail-on error "$tmp"/postern_*.changes >"$tmp/lintian.txt" 2>&1
rc=$?
grep -v '^running with root privileges' "$tmp/lintian.txt"
[ $rc = 0 ] || fail "lintian reports errors (exit $rc)"
echo "lintian: $(grep -c '^E:' "$tmp/lintian.txt") errors, $(grep -c '^W:' "$tmp/lintian.txt") warnings, $(grep -c '^[IPX]:' "$tmp/lintian.txt") info/pedantic/experimental"

echo "== contents"
x=$tmp/x
dpkg-deb -R "$deb" "$x" || exit 1
for f in usr/sbin/posternd usr/sbin/posternctl usr/share/postern/services.conf etc/postern/postern.conf \
        lib/systemd/system/postern.service usr/share/dbus-1/system.d/org.postern1.conf \
        etc/ppp/ip-up.d/postern etc/ppp/ip-down.d/postern etc/ppp/ipv6-up.d/postern \
        usr/share/man/man8/posternctl.8.gz usr/share/man/man8/posternd.8.gz \
        usr/share/man/man5/postern.conf.5.gz usr/share/man/man5/postern-services.5.gz \
        usr/share/bash-completion/completions/posternctl usr/share/bash-completion/completions/posternd \
        usr/share/doc/postern/copyright usr/share/doc/postern/README.Debian \
        usr/share/doc/postern/examples/000-safesquid-outlook.conf; do
        [ -e "$x/$f" ] || fail "not in the package: /$f"
done
for h in ip-up ip-down ipv6-up; do
        [ -x "$x/etc/ppp/$h.d/postern" ] || fail "/etc/ppp/$h.d/postern not executable"
        grep -q '@' "$x/etc/ppp/$h.d/postern" && fail "/etc/ppp/$h.d/postern: unsubstituted @VAR@"
        grep -q "^# postern's ppp $h hook" "$x/etc/ppp/$h.d/postern" || fail "/etc/ppp/$h.d/postern is not the $h hook"
        grep -q '/usr/sbin/posternctl' "$x/etc/ppp/$h.d/postern" || fail "/etc/ppp/$h.d/postern does not call /usr/sbin/posternctl"
done
for c in /etc/postern/postern.conf /etc/ppp/ip-up.d/postern /etc/ppp/ip-down.d/postern /etc/ppp/ipv6-up.d/postern; do
        grep -qx "$c" "$x/DEBIAN/conffiles" || fail "$c is not a conffile"
done
grep -q '^Documentation=man:posternd(8)' "$x/lib/systemd/system/postern.service" || fail "the unit has no Documentation="
grep -q '^ExecStart=/usr/sbin/posternd$' "$x/lib/systemd/system/postern.service" || fail "ExecStart is not /usr/sbin/posternd"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in libnftables1 libnftnl11 libmnl0 libconfig9 libsystemd0; do
        case ", $depends" in *", $d "* | *", $d,"* | *", $d") ;; *) fail "Depends lacks $d" ;; esac
done
# the default policy is the safe one: ssh, nothing forwarded
grep -q 'allow = "ssh"' "$x/etc/postern/postern.conf" || fail "the default policy does not allow ssh"
grep -qE '^forward' "$x/etc/postern/postern.conf" && fail "the default policy forwards something"
# install: never enabled, never started (deb-systemd-invoke starts no disabled unit)
# (dh_installsystemd --no-enable: the unit is enabled only if it was before)
grep -q "deb-systemd-helper debian-installed 'postern.service'" "$x/DEBIAN/postinst" ||
        fail "postinst enables postern.service on install (not dh_installsystemd --no-enable)"
# no build-tree path anywhere: binaries, unit, hooks, man pages
if grep -rlaF -e "$tmp" -e "$src" "$x" | grep -v '/DEBIAN/md5sums$'; then
        fail "files above carry a build-tree path ($tmp or $src)"
fi
# man posternctl works from the package
if command -v man >/dev/null; then
        out=$(MANWIDTH=80 man --warnings -l "$x/usr/share/man/man8/posternctl.8.gz" 2>"$tmp/man.err")
        [ -s "$tmp/man.err" ] && fail "man posternctl: $(cat "$tmp/man.err")"
        echo "$out" | grep -q 'posternctl - check, compile and install postern firewall policies' ||
                fail "man posternctl does not render"
fi
# the packaged binaries find the packaged catalog only where it is installed:
# run from the extracted tree, posternctl names /usr/share/postern/services.conf
msg=$(env -u POSTERN_CATALOG "$x/usr/sbin/posternctl" services 2>&1 >/dev/null)
case $msg in "" | */usr/share/postern/services.conf*) ;; *) fail "posternctl services: $msg" ;; esac
"$x/usr/sbin/posternctl" --catalog "$x/usr/share/postern/services.conf" check "$x/etc/postern/postern.conf" ||
        fail "the packaged posternctl rejects the packaged default policy"

after=$(cd "$src" && git status --porcelain 2>/dev/null)
[ "$before" = "$after" ] || fail "the source tree changed during the package build"
[ $failed = 0 ] && echo "PASS: postern package built, lintian clean of errors, contents as expected"
exit $failed
