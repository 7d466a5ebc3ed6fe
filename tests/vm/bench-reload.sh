# The reload benchmark (tests/bench/run --only reload --quick) on a VM's
# kernel, for POSTERN_VM_DEBUG (vm.sh runs it in the guest instead of the
# plan, with SRC, BUILD and R set):
#   POSTERN_VM_DEBUG=$PWD/tests/vm/bench-reload.sh POSTERN_VM_TIMEOUT=1700 \
#       meson test -C build vm-6.1 --timeout-multiplier 2
# Its tables land in build/meson-logs/vm/6.1-main/results/reload.md (and
# reload.json), its output in debug.log there.  The guest shares the host's
# root read-only: the build directory must be built already.
cd "$SRC" || exit 1
uname -r
export PATH=/usr/sbin:/usr/bin:/sbin:/bin POSTERN_BUILD_ROOT=$BUILD
timeout 1300 python3 tests/bench/run --only reload --quick --build "$BUILD" --json "$R/reload.json" \
        --markdown "$R/reload.md"
echo "bench rc=$?"
