# Sourced by tests/test_gate.sh and tests/test_bisect.sh after check.sh
# (which sets OUT): make_fake writes a fake krefbench from
# tests/fake_krefbench.py.in, whose comment says what it does.
FAKE_KREFBENCH_IN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fake_krefbench.py.in

make_fake() {  # make_fake PATH SLOWDOWN [MODE]; SLOWDOWN may be @SLOWDOWN@
    local out=${OUT//\\/\\\\}
    out=${out//|/\\|}
    out=${out//&/\\&}
    sed -e "s|@SLOWDOWN@|$2|" -e "s|@MODE@|${3:-}|" -e "s|@OUT@|$out|g" \
        "$FAKE_KREFBENCH_IN" >"$1"
    chmod +x "$1"
}
