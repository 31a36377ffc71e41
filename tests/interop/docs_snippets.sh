#!/usr/bin/env bash
# Compiles the C code shown in README.md and docs/*.md, so that the documentation cannot drift
# from include/wsc.h unnoticed.
#
# Every fenced block whose opening line is exactly one of these two is compiled; other blocks
# (```sh, ```text, a bare ```) are prose to this script. Fences start in the first column: an
# indented ```c fence, or ```c with any other info string, is reported as a failure rather than
# skipped. Compiler messages give the Markdown file's own line numbers.
#
#   ```c            A whole file, compiled as it stands with
#                   `cc -std=c11 -Wall -Wextra -Werror -Iinclude -c`. When it defines main() it is
#                   also linked against build/lib/libwsc.a (`make` builds it) with -lssl -lcrypto
#                   -lz -lpthread, so every wsc_ name it calls must exist.
#   ```c fragment   Statements, as they would stand inside a callback. They become the body of
#                       int fragment(wsc_conn *conn, void *user, const wsc_msg *msg,
#                                    wsc_handshake *hs, wsc_server *srv, wsc_client *client)
#                   in a file that includes <wsc.h>, <stdio.h>, <stdlib.h> and <string.h>, so a
#                   fragment may use those six names and may `return` an int. It may also declare
#                   its own variables of the same names.
#
# Prints one line per block, then `N passed, N failed`; exits 1 when a block fails to compile or
# link, or when no block is found at all.
set -u
cd "$(dirname "$0")/../.." || exit 1

CC=${CC:-cc}
CFLAGS=(-std=c11 -Wall -Wextra -Werror -Iinclude)
LIB=build/lib/libwsc.a
LIBS=(-lssl -lcrypto -lz -lpthread)

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}

bad() {
    fail=$((fail + 1))
    echo "FAIL $1: $2"
    if [ -s "$tmp/log" ]; then
        sed 's/^/    /' "$tmp/log"
    fi
}

# Splits the blocks of one Markdown file into <dir>/<n>.c and lists them in <dir>/index, one line
# "<n> <kind> <line>" each: kind is file or fragment, or what is wrong with the block (unknown: an
# info string other than the two above; indented; unterminated); line is the opening fence's.
extract() {
    awk -v dir="$2" '
        function entry(kind) {
            n++
            kinds[n] = kind
            lines[n] = NR
        }
        function open_block(kind) {
            entry(kind)
            out = dir "/" n ".c"
            printf "" > out
            inside = 1
        }
        !inside && /^```c[ \t]*$/ { open_block("file"); next }
        !inside && /^```c[ \t]+fragment[ \t]*$/ { open_block("fragment"); next }
        !inside && /^```c[ \t]/ { entry("unknown") }
        !inside && /^[ \t]+```c([ \t]|$)/ { entry("indented") }
        !inside && /^```/ { other = 1; inside = 1; next }
        inside && /^```[ \t]*$/ {
            if (!other)
                close(out)
            inside = 0
            other = 0
            next
        }
        inside && !other { print >> out }
        END {
            if (inside && !other)
                kinds[n] = "unterminated"
            for (i = 1; i <= n; i++)
                printf "%d %s %d\n", i, kinds[i], lines[i] > (dir "/index")
        }
    ' "$1"
}

# Writes the file to compile for block $1 (its kind $2, its fence on line $3 of $4) to $5. A #line
# directive makes the compiler report the Markdown file's own line numbers.
prepare() {
    local body=$1 kind=$2 line=$3 md=$4 out=$5
    if [ "$kind" = file ]; then
        { printf '#line %d "%s"\n' $((line + 1)) "$md"; cat "$body"; } >"$out"
        return
    fi
    {
        printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n#include <wsc.h>\n\n'
        printf 'int fragment(wsc_conn *conn, void *user, const wsc_msg *msg, wsc_handshake *hs,\n'
        printf '             wsc_server *srv, wsc_client *client);\n'
        printf 'int fragment(wsc_conn *conn, void *user, const wsc_msg *msg, wsc_handshake *hs,\n'
        printf '             wsc_server *srv, wsc_client *client)\n{\n'
        printf '    (void)conn, (void)user, (void)msg, (void)hs, (void)srv, (void)client;\n    {\n'
        printf '#line %d "%s"\n' $((line + 1)) "$md"
        cat "$body"
        printf '    }\n    return 0;\n}\n'
    } >"$out"
}

files=(README.md)
for f in docs/*.md; do
    [ -e "$f" ] && files+=("$f")
done

i=0
for md in "${files[@]}"; do
    i=$((i + 1))
    dir="$tmp/$i"
    mkdir -p "$dir"
    extract "$md" "$dir"
    [ -f "$dir/index" ] || continue
    while read -r n kind line; do
        name="$md:$line"
        : >"$tmp/log"
        case "$kind" in
        file | fragment) ;;
        unknown)
            bad "$name" "a \`\`\`c block other than \`\`\`c or \`\`\`c fragment"
            continue
            ;;
        indented)
            bad "$name" "an indented \`\`\`c block (fences start in the first column)"
            continue
            ;;
        *)
            bad "$name" "a \`\`\`c block is not closed"
            continue
            ;;
        esac
        src="$dir/$n.src.c"
        prepare "$dir/$n.c" "$kind" "$line" "$md" "$src"
        if ! "$CC" "${CFLAGS[@]}" -c "$src" -o "$dir/$n.o" >"$tmp/log" 2>&1; then
            bad "$name" "does not compile ($kind)"
            continue
        fi
        if [ "$kind" = file ] && grep -Eq '^[[:space:]]*int[[:space:]]+main[[:space:]]*\(' "$src"; then
            if [ ! -f "$LIB" ]; then
                echo "$LIB is missing: run make" >"$tmp/log"
                bad "$name" "cannot be linked"
                continue
            fi
            if ! "$CC" -o "$dir/$n.bin" "$dir/$n.o" "$LIB" "${LIBS[@]}" >"$tmp/log" 2>&1; then
                bad "$name" "does not link"
                continue
            fi
            ok "$name (program)"
        else
            ok "$name ($kind)"
        fi
    done <"$dir/index"
done

if [ $((pass + fail)) -eq 0 ]; then
    echo "FAIL no \`\`\`c block found in ${files[*]}"
    fail=1
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
