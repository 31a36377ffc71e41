#!/usr/bin/env bash
# Runs every test program and interop script, each bounded in time, and
# prints the sum as `N passed, N failed` on the last line. Each program
# reports its own counts on its last line; a program without that line
# counts as one failure, whether it died (a sanitizer abort, a timeout) or
# exited 0 without saying what it ran.
set -u
cd "$(dirname "$0")/.."

export WSC_BIN=${WSC_BIN:-build/asan/bin}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
log_dir=build/test-logs
mkdir -p "$log_dir"

total_pass=0
total_fail=0
failed_names=()

run_one() {
    local name=$1; shift
    local log="$log_dir/$(echo "$name" | tr '/' '_').log"
    local start=$SECONDS
    timeout -k 5 "$TEST_TIMEOUT" "$@" >"$log" 2>&1
    local rc=$?
    local last p f
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -n "$last" ]; then
        p=${last%% passed*}
        f=${last#*, }; f=${f%% failed}
    else
        p=0; f=0
    fi
    if { [ "$rc" -ne 0 ] || [ -z "$last" ]; } && [ "$f" -eq 0 ]; then
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    printf '%-44s %4d passed, %d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - start))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        [ -z "$last" ] && echo "---- $name printed no \`N passed, N failed\` line"
        echo "---- $name (exit $rc), last lines of $log:"
        tail -n 40 "$log"
        echo "----"
    fi
}

for t in build/asan/test/test_*; do
    [ -x "$t" ] && run_one "asan/$(basename "$t")" "$t"
done
for t in build/tsan/test/test_*; do
    [ -x "$t" ] && run_one "tsan/$(basename "$t")" "$t"
done
for t in build/asan/replay/fuzz_*; do
    name=$(basename "$t"); name=${name#fuzz_}
    [ -x "$t" ] && [ -d "fuzz/corpus/$name" ] && run_one "corpus/$name" "$t" "fuzz/corpus/$name"
done
for t in tests/interop/*; do
    case "$t" in
        *.py) run_one "interop/$(basename "$t")" /usr/bin/python3 "$t" ;;
        *.sh) run_one "interop/$(basename "$t")" bash "$t" ;;
    esac
done
if make -s check-symbols >"$log_dir/symbols.log" 2>&1; then
    total_pass=$((total_pass + 1))
    echo "exported symbols start with wsc_; thread-locals are initial-exec"
else
    total_fail=$((total_fail + 1))
    failed_names+=("check-symbols")
    cat "$log_dir/symbols.log"
fi

if [ "${#failed_names[@]}" -gt 0 ]; then
    echo "failing: ${failed_names[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
