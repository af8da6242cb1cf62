# Sourced by the shell tests: the vocabulary of tests/check.h for bash.
# Every check prints "ok - ..." or "FAIL - ..."; check_summary prints
# "N passed, N failed" and returns non-zero when anything failed.
passed=0
failed=0
pass() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }
check() {  # check DESCRIPTION COMMAND...
    local desc=$1; shift
    if "$@"; then pass "$desc"; else fail "$desc"; fi
}
# Run a python check script; its "ok - " / "FAIL - " lines count here.
pycheck() {  # pycheck WHAT SCRIPT ARGS...
    local what=$1 script=$2 out rc=0; shift 2
    out=$("${PY:-/usr/bin/python3}" -c "$script" "$@" 2>&1) || rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok - "*) echo "$line"; passed=$((passed + 1)) ;;
            "FAIL - "*) echo "$line"; failed=$((failed + 1)) ;;
            *) if [ -n "$line" ]; then echo "  $line"; fi ;;
        esac
    done <<< "$out"
    [ "$rc" -eq 0 ] || fail "$what: python checker exited $rc"
}
check_summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
# src_and_out_dirs "$@": the two arguments of the suites run as
# `SCRIPT SRC_DIR OUT_DIR`: sets SRC (absolute), OUT (emptied, absolute;
# never "" or /) and PY; a wrong count is a usage line and exit 2.
src_and_out_dirs() {
    if [ $# -ne 2 ]; then
        echo "usage: $0 SRC_DIR OUT_DIR" >&2
        exit 2
    fi
    SRC=$(cd "$1" && pwd)
    OUT=$2
    case "$OUT" in ""|/) echo "refusing OUT_DIR '$OUT'" >&2; exit 2 ;; esac
    rm -rf -- "$OUT"
    mkdir -p -- "$OUT"
    OUT=$(cd "$OUT" && pwd)
    PY=/usr/bin/python3
}
# run NAME COMMAND...: COMMAND's stdout, stderr into $OUT/NAME.{out,err},
# its exit status into rc (the suites of src_and_out_dirs).
run() {
    local name=$1; shift
    rc=0
    "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
}
# has FILE TEXT: FILE (under $OUT) holds TEXT.
has() { grep -qF -- "$2" "$OUT/$1"; }
# "${AS_FROM_TERMINAL[@]}" COMMAND... &: starts COMMAND as a terminal would,
# in its own process group whose leader is $! (a command, not a function,
# so that no subshell stands between), SIGINT not ignored (a script's
# background jobs otherwise inherit it ignored): `kill -INT -- -$!` is ^C.
AS_FROM_TERMINAL=(/usr/bin/python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])')
