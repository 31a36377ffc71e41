#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time on its committed corpus
# (copied, so new inputs found here do not dirty the tree).
set -u
seconds=$1; shift
status=0
for f in "$@"; do
    name=$(basename "$f"); name=${name#fuzz_}
    work=build/fuzz/corpus-work/$name
    mkdir -p "$work"
    [ -d "fuzz/corpus/$name" ] && cp -n fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
    echo "fuzzing $name for ${seconds}s"
    if ! "$f" -max_total_time="$seconds" -print_final_stats=0 "$work" \
            >"build/fuzz/$name.log" 2>&1; then
        echo "FUZZ FAILURE in $name:"; tail -n 60 "build/fuzz/$name.log"
        status=1
    else
        tail -n 1 "build/fuzz/$name.log"
    fi
done
exit $status
