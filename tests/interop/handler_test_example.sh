#!/usr/bin/env bash
# Runs the handler-test example (examples/handler_test.c): the public test helpers over a real
# socket pair must see what the example's handler writes.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${WSC_BIN:-build/asan/bin}
if timeout 60 "$BIN/handler_test"; then
    echo "ok   handler_test"
    echo "1 passed, 0 failed"
else
    echo "FAIL handler_test"
    echo "0 passed, 1 failed"
    exit 1
fi
