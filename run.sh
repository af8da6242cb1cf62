#!/usr/bin/env bash
# krefbench: the one entry point. See README.md.
#
#   ./run.sh              install deps, build Release, run the default sweep, plot, summarise
#   ./run.sh test         build and run every test in the release, tsan and asan flavours
#   ./run.sh bench ...    the benchmark binary with options (./run.sh bench --help)
#   ./run.sh plot FILE    charts from a results file
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$top"

# Debian packages the project needs (nothing else is installed or downloaded).
deps=(cmake gcc g++ make pkg-config libbenchmark-dev libhwloc-dev liburcu-dev
	python3-matplotlib linux-perf)

die() { echo "run.sh: $*" >&2; exit 2; }

missing_packages() {
	local pkg
	for pkg in "${deps[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
	done
}

install_deps() {
	local missing
	missing=$(missing_packages | tr '\n' ' ')
	[ -z "${missing// /}" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "run.sh: missing packages; run as root:" >&2
		echo "  apt-get update && apt-get install -y $missing" >&2
		exit 1
	fi
	echo "run.sh: installing $missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >&2
}

jobs() { nproc 2>/dev/null || echo 2; }

# build FLAVOUR: configure and build into build/FLAVOUR.
build() {
	local flavour=$1 sanitize=""
	case $flavour in
		release) ;;
		tsan) sanitize=thread ;;
		asan) sanitize=address ;;
		*) die "unknown build flavour '$flavour'" ;;
	esac
	cmake -S "$top" -B "$top/build/$flavour" -DCMAKE_BUILD_TYPE=Release \
		-DKREFBENCH_SANITIZE="$sanitize" >"$top/build/$flavour.configure.log" 2>&1 ||
		{ cat "$top/build/$flavour.configure.log" >&2; return 1; }
	cmake --build "$top/build/$flavour" -j "$(jobs)" >"$top/build/$flavour.build.log" 2>&1 ||
		{ tail -n 60 "$top/build/$flavour.build.log" >&2; return 1; }
}

# test_flavour FLAVOUR: build and ctest; prints "FLAVOUR: N passed, N failed".
test_flavour() {
	local flavour=$1 log total failed passed
	log="$top/build/$flavour.ctest.log"
	if ! build "$flavour"; then
		echo "$flavour: build failed"
		return 1
	fi
	# TSAN_OPTIONS: a race report fails the test (exit 66) and names both stacks.
	# ASAN/UBSAN: any error aborts the test; leaks are errors.
	TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$top/tests/tsan.supp" \
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		ctest --test-dir "$top/build/$flavour" --output-on-failure -j "$(jobs)" >"$log" 2>&1 || true
	total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n1)
	failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n1)
	if [ -z "$total" ]; then
		tail -n 40 "$log" >&2
		echo "$flavour: ctest did not run"
		return 1
	fi
	passed=$((total - failed))
	if [ "$failed" -ne 0 ]; then
		grep -E '^[[:space:]]*[0-9]+ - |\*\*\*Failed|Timeout' "$log" >&2 || true
		echo "(full log: $log)" >&2
	fi
	echo "$flavour: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

cmd_test() {
	install_deps
	mkdir -p "$top/build"
	local status=0 flavour start=$SECONDS
	for flavour in release tsan asan; do
		test_flavour "$flavour" || status=1
	done
	echo "run.sh test: $((SECONDS - start)) s"
	return $status
}

bench_binary() {
	install_deps
	mkdir -p "$top/build"
	build release || die "build failed (log: build/release.build.log)"
	echo "$top/build/release/bench/krefbench"
}

cmd_bench() {
	local bin
	bin=$(bench_binary)
	exec "$bin" --results-dir "$top/results" "$@"
}

cmd_plot() {
	[ $# -ge 1 ] || die "usage: ./run.sh plot RESULTS.csv [--out DIR]"
	install_deps
	/usr/bin/python3 "$top/plots/plot.py" "$@"
}

# ./run.sh profile BACKEND WORKLOAD [THREADS] [--stat|--record|--c2c]
cmd_profile() {
	die "'profile' is not built yet"
}

# ./run.sh compare A.csv B.csv | ./run.sh compare --rev BASE [--rev OTHER]
cmd_compare() {
	die "'compare' is not built yet"
}

cmd_main() {
	local bin csv
	bin=$(bench_binary)
	"$bin" --results-dir "$top/results" --print-path-to "$top/build/last-run" "$@"
	csv=$(cat "$top/build/last-run")
	/usr/bin/python3 "$top/plots/plot.py" "$csv" || echo "run.sh: plotting failed; results are in $csv" >&2
	echo "results: $csv (environment: ${csv%.csv}.json)"
}

case "${1:-}" in
	test) shift; cmd_test "$@" ;;
	bench) shift; cmd_bench "$@" ;;
	plot) shift; cmd_plot "$@" ;;
	profile) shift; cmd_profile "$@" ;;
	compare) shift; cmd_compare "$@" ;;
	"" | --*) cmd_main "$@" ;;
	-h | help) sed -n '2,8p' "$0" ;;
	*) die "unknown command '$1' (try: ./run.sh help)" ;;
esac
