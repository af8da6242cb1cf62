#!/usr/bin/env bash
# krefbench: the one entry point (usage() below lists the commands; README.md
# says more). A dispatcher: install what is missing, build, exec the program
# that does the work.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Where the user's relative paths point (commands that take paths go back there).
caller_dir=$PWD
cd "$top"

# Debian packages the project needs (nothing else is installed or downloaded).
deps=(cmake gcc g++ make pkg-config libbenchmark-dev libhwloc-dev liburcu-dev
	python3-matplotlib linux-perf python3-plotly python3-numpy python3-scipy)
# `./run.sh test` also cross-builds core/ and its tests for arm64 and runs them
# under qemu-user: the cross compiler, the emulator, and core's arm64 libraries
# through Debian multiarch. A|B: either package will do (A is installed).
test_deps=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross 'qemu-user|qemu-user-static' liburcu-dev:arm64)
# `./run.sh test vm` boots a 64-vCPU guest (tests/vm/run_vm.sh): the emulator and
# a static busybox for its init; its kernel is downloaded there with apt-get download.
vm_deps=(qemu-system-x86 busybox-static)
# The release flavour also opens report.html in chromium (tests/test_report.sh)
# model-checks the small algorithms with spin (tests/test_models.sh) and
# matches its Google Benchmark names with Debian's compare.py (test_measurement);
# tests/test_hostile_data.sh renders report.md as GitHub does (cmark-gfm) and
# runs a fleet of crafted hosts (ansible).
release_test_deps=(chromium spin libbenchmark-tools cmark-gfm ansible)
# `./run.sh fleet` drives the hosts with Ansible (bench/analysis/fleet.py, fleet.yml).
fleet_deps=(ansible)

die() { echo "run.sh: $*" >&2; exit 2; }

usage() {
	cat <<'USAGE'
usage: ./run.sh [COMMAND] [ARGS...]     (README.md has the details)

  ./run.sh [BENCH OPTIONS]       the default sweep: install what is missing, build, measure,
                                 then plots, the decision sections and report.html
  ./run.sh test [FLAVOUR...]     every test: release tsan asan arm64 vm (or the flavours named)
  ./run.sh bench [OPTIONS]       the benchmark binary alone (./run.sh bench --help)
  ./run.sh profile B W [T] ...   one benchmark under perf (./run.sh profile --help)
  ./run.sh compare A.csv B.csv   compare two results files (./run.sh compare --help)
  ./run.sh compare --rev BASE    the regression gate: this tree against BASE, paired in time
  ./run.sh compare --bin A --bin B   the gate between two krefbench binaries
  ./run.sh report FILE...        report.html + report.md: which scheme for which object life
  ./run.sh plot FILE             charts (PNG + SVG) from a results file
  ./run.sh fleet INVENTORY ...   the sweep on every host of an Ansible inventory, one report
  ./run.sh history [...]         runs recorded in results/history.sqlite; --changes: change points
  ./run.sh bisect GOOD BAD       the first commit the gate finds slower than GOOD
  ./run.sh export --format F FILE.csv   a results file as Bencher (bmf) or github-action-benchmark JSON
  ./run.sh help                  this list
USAGE
}

# missing_packages PKG...: those not installed (of A|B: A, unless B is there).
missing_packages() {
	local pkg alt ok
	for pkg in "$@"; do
		ok=""
		for alt in ${pkg//|/ }; do
			dpkg-query -W -f='${Status}' "$alt" 2>/dev/null | grep -q 'install ok installed' && ok=1
		done
		[ -n "$ok" ] || echo "${pkg%%|*}"
	done
}

# install_deps [EXTRA_PKG...]: install what deps (and the extras) lack; a
# second run finds nothing missing and installs nothing.
install_deps() {
	local missing arch="" log
	missing=$(missing_packages "${deps[@]}" "$@" | tr '\n' ' ')
	[ -z "${missing// /}" ] && return 0
	# Multiarch packages (NAME:arm64) need the architecture added first.
	case " $missing" in
		*:arm64\ *) dpkg --print-foreign-architectures | grep -qx arm64 || arch=arm64 ;;
	esac
	if [ "$(id -u)" -ne 0 ]; then
		echo "run.sh: missing packages; run as root:" >&2
		echo "  ${arch:+dpkg --add-architecture $arch && }apt-get update && apt-get install -y $missing" >&2
		exit 1
	fi
	echo "run.sh: installing $missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	# shellcheck disable=SC2086
	if ! { { [ -z "$arch" ] || dpkg --add-architecture "$arch"; } &&
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "installing packages failed"
	fi
	rm -f "$log"
}

jobs() { nproc 2>/dev/null || echo 2; }

# build FLAVOUR: configure (CMakePresets.json's preset of that name: the one
# recipe, shared with the gate) and build into build/FLAVOUR.
build() {
	local flavour=$1
	case $flavour in
		release | tsan | asan | arm64) ;;
		*) die "unknown build flavour '$flavour'" ;;
	esac
	cmake --preset "$flavour" -S "$top" -B "$top/build/$flavour" >"$top/build/$flavour.configure.log" 2>&1 ||
		{ cat "$top/build/$flavour.configure.log" >&2; return 1; }
	cmake --build "$top/build/$flavour" -j "$(jobs)" >"$top/build/$flavour.build.log" 2>&1 ||
		{ tail -n 60 "$top/build/$flavour.build.log" >&2; return 1; }
}

# test_flavour FLAVOUR: build and ctest; prints "FLAVOUR: N passed, N failed".
# vm: tests/vm/run_vm.sh boots the 64-CPU guest and prints its own line.
test_flavour() {
	local flavour=$1 log total failed passed
	log="$top/build/$flavour.ctest.log"
	if [ "$flavour" = vm ]; then
		log="$top/build/vm.log"
		"$top/tests/vm/run_vm.sh" >"$log" 2>&1
		passed=$?
		grep -v '^ok  ' "$log" || true
		[ $passed -eq 0 ] || echo "(full log: $log)" >&2
		return $passed
	fi
	if ! build "$flavour"; then
		echo "$flavour: build failed"
		return 1
	fi
	# The sanitizers' options are the tests' own (tests/CMakeLists.txt).
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
		# Why, in a few lines: CI shows only part of the output, and the
		# full log stays on the machine that ran it.
		grep -E '^FAIL |^not ok|WARNING: (ThreadSanitizer|AddressSanitizer)|^SUMMARY: |runtime error:' \
			"$log" | head -n 20 >&2 || true
		echo "(full log: $log)" >&2
	fi
	echo "$flavour: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# ./run.sh test [FLAVOUR...]: release, tsan, asan, arm64 (core/ under
# qemu-user) and vm (a 64-CPU guest under qemu-system) unless flavours are named.
cmd_test() {
	local status=0 flavour start=$SECONDS flavours=("$@") extra=()
	[ $# -gt 0 ] || flavours=(release tsan asan arm64 vm)
	for flavour in "${flavours[@]}"; do
		case $flavour in
			release) extra+=("${release_test_deps[@]}") ;;
			tsan | asan) ;;
			arm64) extra+=("${test_deps[@]}") ;;
			vm) extra+=("${vm_deps[@]}") ;;
			*) die "unknown test flavour '$flavour' (release, tsan, asan, arm64, vm)" ;;
		esac
	done
	install_deps "${extra[@]}"
	mkdir -p "$top/build"
	for flavour in "${flavours[@]}"; do
		test_flavour "$flavour" || status=1
	done
	echo "run.sh test: $((SECONDS - start)) s"
	return $status
}

# The krefbench to run: $KREFBENCH_BIN when set (a build of your own, or the
# tests' build), else build/release, built first.
bench_binary() {
	if [ -n "${KREFBENCH_BIN:-}" ]; then
		[ -x "$KREFBENCH_BIN" ] && [ -f "$KREFBENCH_BIN" ] || die "KREFBENCH_BIN '$KREFBENCH_BIN' is not an executable"
		echo "$KREFBENCH_BIN"
		return
	fi
	install_deps
	mkdir -p "$top/build"
	build release || die "build failed (log: build/release.build.log)"
	echo "$top/build/release/bench/krefbench"
}

# The benchmark itself, from the caller's directory: its paths, signals and
# exit status are the user's own. It runs as a child so that its results
# can be recorded in the history after it exits (bench/analysis/history.py):
# a signal to run.sh is passed on to it, and run.sh exits as it did.
cmd_bench() {
	local bin last
	bin=$(bench_binary)
	last=$(mktemp "${TMPDIR:-/tmp}/krefbench-last.XXXXXX") || die "cannot create a temporary file"
	cd "$caller_dir"
	run_recorded bench "$last" "$bin" --results-dir "$top/results" --print-path-to "$last" "$@"
}

# run_recorded KIND LAST COMMAND...: COMMAND as a child that gets run.sh's
# INT and TERM; when it exits below 128 having written its CSV's path to
# LAST, the run is appended to the history. Exits with COMMAND's status
# (the main job's plots come first: it passes KIND main and returns).
run_recorded() {
	local kind=$1 last=$2 pid rc=0
	shift 2
	# A background job starts with SIGINT ignored (POSIX); env gives the
	# child its default back, so a ^C before it installs its handler still
	# ends it, as when it is exec'd.
	env --default-signal=INT "$@" &
	pid=$!
	# (|| true: under set -e a failed kill, the child already gone, would end run.sh)
	trap 'kill -INT "$pid" 2>/dev/null || true' INT
	trap 'kill -TERM "$pid" 2>/dev/null || true' TERM
	# A trapped signal ends `wait` early: wait until the child itself is gone.
	while :; do
		rc=0
		wait "$pid" || rc=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	trap - INT TERM
	if [ "$rc" -lt 128 ] && [ -s "$last" ]; then
		PYTHONPATH="$top/bench" /usr/bin/python3 -m analysis.history record "$(cat "$last")" \
			--kind "${kind/main/sweep}" || true
	fi
	[ "$kind" = main ] && return "$rc"
	rm -f "$last"
	exit "$rc"
}

# analysis MODULE ARGS...: bench/analysis/MODULE.py as the package's module,
# run from the caller's directory, with the binary it asks what it knows
# (bench/analysis/names.py) built first.
analysis() {
	local module=$1
	shift
	KREFBENCH_BIN=$(bench_binary)
	export KREFBENCH_BIN PYTHONPATH="$top/bench"
	cd -- "$caller_dir" || die "cannot return to $caller_dir"
	exec /usr/bin/python3 -m "analysis.$module" "$@"
}

cmd_plot() {
	[ $# -ge 1 ] || die "usage: ./run.sh plot RESULTS.csv [--out DIR]"
	analysis charts "$@"
}

# ./run.sh profile BACKEND WORKLOAD [THREADS] [--stat|--record|--c2c] [--time S] [-- ARGS...]
#     bench/analysis/profiling.py: one benchmark under perf (its --help).
cmd_profile() {
	analysis profiling "$@"
}

# ./run.sh compare A.csv B.csv [--threshold PCT] [--alpha A] [--adjust M] [--format F]
#     bench/analysis/compare.py: the report between two results files.
# ./run.sh compare --rev BASE [--rev OTHER] | --bin A --bin B [--pairs N] [--out DIR] [...]
#     bench/analysis/gate.py: the regression gate (A and B in short process pairs,
#     paired analysis; it builds revisions itself). README, "Did a change
#     make it slower?". Either program is exec'd from the caller's directory,
#     so its paths mean what the caller's shell means, and signals and exit
#     codes (0 same, 1 regression, 2 bad input or no answer, 130/143) are its own.
cmd_compare() {
	local arg
	for arg in "$@"; do
		case $arg in --rev | --rev=* | --bin | --bin=*) analysis gate --repo "$top" "$@" ;; esac
	done
	analysis compare "$@"
}

# ./run.sh report RESULTS.csv [MORE.csv ...] [--out DIR] | --compare A.csv B.csv [...]
#     bench/analysis/report.py: report.html (self-contained) + report.md, from the caller's directory.
cmd_report() {
	analysis report "$@"
}

# ./run.sh fleet INVENTORY [bench options]: bench/analysis/fleet.py runs fleet.yml
# with ansible-playbook (the tree to every host, its own ./run.sh builds and
# runs the sweep, results fetched into results/fleet-<UTC>/<host>/) and writes
# the cross-host report.
cmd_fleet() {
	install_deps "${fleet_deps[@]}"
	analysis fleet --repo "$top" "$@"
}

# The main job: the sweep, then its plots. The sweep runs as a child (the
# plots follow it), so a signal to run.sh is passed on to it and run.sh exits
# as it did (130/143, rows kept). Options such as --help or --plan are the
# sweep's own: when it writes no results there is nothing to plot. The
# sweep names its results file in a file of this run's own (mktemp), so two
# runs that overlap never read each other's.
cmd_main() {
	local bin csv rc=0 last report started=$SECONDS
	bin=$(bench_binary)
	last=$(mktemp "${TMPDIR:-/tmp}/krefbench-run.XXXXXXXX") || die "cannot make a temporary file"
	trap 'rm -f "$last"' EXIT
	cd "$caller_dir"
	run_recorded main "$last" "$bin" --results-dir "$top/results" --print-path-to "$last" "$@" || rc=$?
	[ -s "$last" ] && [ "$rc" -lt 128 ] || exit "$rc"
	csv=$(cat "$last")
	export KREFBENCH_BIN="$bin" PYTHONPATH="$top/bench"
	/usr/bin/python3 -m analysis.charts --quiet "$csv" || echo "run.sh: plotting failed; results are in $csv" >&2
	/usr/bin/python3 -m analysis.decide --width 100 "$csv" ||
		echo "run.sh: the decision sections failed; results are in $csv" >&2
	report=$(/usr/bin/python3 -m analysis.report "$csv" | sed -n 's/^report: \(\/.*\.html\)$/\1/p') || report=
	[ -n "$report" ] || echo "run.sh: the report failed; results are in $csv" >&2
	/usr/bin/python3 -m analysis.closing "$csv" --report "$report" --seconds "$((SECONDS - started))" ||
		echo "run.sh: the closing summary failed; results are in $csv" >&2
	exit "$rc"
}

# ./run.sh history [--benchmark 'B W T'] [--changes] [--import CSV...] [--merge DB...] [--format F]
#     bench/analysis/history.py: the runs in results/history.sqlite, series, change points.
cmd_history() {
	analysis history "$@"
}

# ./run.sh export --format bmf|github-action-benchmark FILE.csv
#     bench/analysis/export.py: a results file as CI services read it, on stdout.
cmd_export() {
	analysis export "$@"
}

# ./run.sh bisect GOOD BAD [--threshold PCT] [gate options]
#     bench/analysis/bisection.py: git bisect run with the gate as the predicate.
cmd_bisect() {
	analysis bisection --repo "$top" "$@"
}

case "${1:-}" in
	test) shift; cmd_test "$@" ;;
	bench) shift; cmd_bench "$@" ;;
	plot) shift; cmd_plot "$@" ;;
	profile) shift; cmd_profile "$@" ;;
	compare) shift; cmd_compare "$@" ;;
	report) shift; cmd_report "$@" ;;
	fleet) shift; cmd_fleet "$@" ;;
	history) shift; cmd_history "$@" ;;
	export) shift; cmd_export "$@" ;;
	bisect) shift; cmd_bisect "$@" ;;
	-h | --help | help) usage ;;
	"" | --*) cmd_main "$@" ;;
	*) die "unknown command '$1' (try: ./run.sh help)" ;;
esac
