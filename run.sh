#!/usr/bin/env bash
# krefbench: the one entry point. See README.md.
#
#   ./run.sh              install deps, build Release, run the default sweep, plot, summarise
#   ./run.sh test         build and run every test: release, tsan, asan, arm64 (core/ under qemu)
#   ./run.sh bench ...    the benchmark binary with options (./run.sh bench --help)
#   ./run.sh plot FILE    charts from a results file
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Where the user's relative paths point (commands that take paths go back there).
caller_dir=$PWD
cd "$top"

# Debian packages the project needs (nothing else is installed or downloaded).
deps=(cmake gcc g++ make pkg-config libbenchmark-dev libhwloc-dev liburcu-dev
	python3-matplotlib linux-perf python3-plotly)
# `./run.sh test` also cross-builds core/ and its tests for arm64 and runs them
# under qemu-user: the cross compiler, the emulator, and core's arm64 libraries
# through Debian multiarch. A|B: either package will do (A is installed).
test_deps=(libbenchmark-tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross 'qemu-user|qemu-user-static' liburcu-dev:arm64)
# `./run.sh test vm` boots a 64-vCPU guest (tests/vm/run_vm.sh): the emulator and
# a static busybox for its init; its kernel is downloaded there with apt-get download.
vm_deps=(qemu-system-x86 busybox-static)
# The report's browser test (tests/test_report.sh, in the release flavour)
# opens report.html in chromium.
report_test_deps=(chromium)
# `./run.sh fleet` drives the hosts with Ansible (bench/analysis/fleet.py, fleet.yml).
fleet_deps=(ansible)

die() { echo "run.sh: $*" >&2; exit 2; }

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

# build FLAVOUR: configure and build into build/FLAVOUR.
build() {
	local flavour=$1 sanitize="" extra=()
	case $flavour in
		release) ;;
		tsan) sanitize=thread ;;
		asan) sanitize=address ;;
		# core/ and its tests only, cross-compiled; ctest runs them under qemu-user.
		arm64) extra=(-DCMAKE_TOOLCHAIN_FILE="$top/tests/arm64-toolchain.cmake" -DKREFBENCH_CORE_ONLY=ON) ;;
		*) die "unknown build flavour '$flavour'" ;;
	esac
	cmake -S "$top" -B "$top/build/$flavour" -DCMAKE_BUILD_TYPE=Release \
		-DKREFBENCH_SANITIZE="$sanitize" "${extra[@]}" >"$top/build/$flavour.configure.log" 2>&1 ||
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
			release) extra+=("${report_test_deps[@]}") ;;
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
# exit status are the user's own.
cmd_bench() {
	local bin
	bin=$(bench_binary)
	cd "$caller_dir"
	exec "$bin" --results-dir "$top/results" "$@"
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

# ./run.sh profile BACKEND WORKLOAD [THREADS] [--stat|--record|--c2c] [--time S] [-- KREFBENCH_ARGS...]
#   One benchmark (reps 1, --time S, default 2 s, no floors) under perf:
#   --stat (default) perf stat; --record perf record -g and a top-20 report;
#   --c2c perf c2c (needs a PMU with load/store sampling). THREADS defaults
#   to 2, or the PU count if less. Output: $KREFBENCH_PROFILE_DIR (default
#   results/profiles)/<backend>-<workload>-t<threads>-<UTC time>/.
#   KREFBENCH_BIN: profile this krefbench instead of building build/release;
#   KREFBENCH_PERF: the perf binary (default perf). Exit 2: bad input, or
#   what perf needs is missing (the line printed says what to do).
cmd_profile() {
	local usage="usage: ./run.sh profile BACKEND WORKLOAD [THREADS] [--stat|--record|--c2c] [--time S] [-- KREFBENCH_ARGS...]"
	local mode=stat time=2 perf=${KREFBENCH_PERF:-perf} bin npus threads root out stamp paranoid probe rc=0 pmu=0
	local hw_events=cycles,instructions,branches,branch-misses,cache-references,cache-misses
	local sw_events=task-clock,context-switches,cpu-migrations,page-faults
	local -a pos=() extra=() kb=()
	while [ $# -gt 0 ]; do
		case $1 in
			--stat | --record | --c2c) mode=${1#--} ;;
			--time) [ $# -ge 2 ] || die "$usage"; time=$2; shift ;;
			--) shift; extra=("$@"); break ;;
			-h | --help) echo "$usage"; return 0 ;;
			-*) die "unknown profile option '$1' ($usage)" ;;
			*) pos+=("$1") ;;
		esac
		shift
	done
	[ ${#pos[@]} -ge 2 ] && [ ${#pos[@]} -le 3 ] || die "$usage"
	# After --, nothing may change what is profiled, or where its output goes.
	local arg
	for arg in "${extra[@]}"; do
		case $arg in
			--backends* | --workloads* | --threads* | --plan | --out* | --results-dir* | --print-path-to* | \
			--reps* | --retries* | --help | -h | --topology*)
				die "profile: '$arg' after -- would profile something else than BACKEND WORKLOAD [THREADS] (give those as arguments)" ;;
		esac
	done
	threads=${pos[2]:-}
	[ -z "$threads" ] || [[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be one number, not '$threads'"

	# perf itself, and whether it may count at all.
	if ! command -v "$perf" >/dev/null 2>&1 || ! "$perf" --version >/dev/null 2>&1; then
		echo "run.sh: perf is not installed for this kernel ($(uname -r)); as root: apt-get update && apt-get install -y linux-perf" >&2
		exit 2
	fi
	paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo unknown)
	if ! probe=$("$perf" stat -x, -e task-clock -- true 2>&1 >/dev/null); then
		if [ "$(id -u)" -ne 0 ]; then
			echo "run.sh: perf may not count here: kernel.perf_event_paranoid = $paranoid and you are not root; as root run: sysctl -w kernel.perf_event_paranoid=1" >&2
		else
			echo "run.sh: perf stat fails here: $(echo "$probe" | head -n 1)" >&2
		fi
		exit 2
	fi
	if [ "$mode" = c2c ] && ! "$perf" c2c record -e list 2>&1 | grep -q ': available'; then
		echo "run.sh: perf c2c needs a hardware PMU with load/store sampling (Intel PEBS load latency, AMD IBS, Arm SPE); this machine has none ($("$perf" c2c record -e list 2>&1 | head -n 1))" >&2
		exit 2
	fi
	# Hardware events when the PMU counts cycles ("<not supported>" on a VM without one).
	probe=$("$perf" stat -x, -e cycles -- true 2>&1 >/dev/null || true)
	[[ "$probe" =~ (^|$'\n')[0-9]+,[^,]*,[^,]*cycles ]] && pmu=1

	bin=$(bench_binary)
	if [ -z "$threads" ]; then
		npus=$("$bin" --plan 2>/dev/null | sed -n 's/^placement [a-z]*, \([0-9]*\) threads$/\1/p')
		threads=2
		[ -n "$npus" ] && [ "$npus" -lt 2 ] && threads=$npus
	fi
	# krefbench judges the names and the thread count itself (its own one-line error, exit 2).
	kb=("$bin" --backends "${pos[0]}" --workloads "${pos[1]}" --threads "$threads" --no-floors
		--reps 1 --retries 0 --time "$time" --writer-rate 0 --variant unless_zero --no-idle-profile "${extra[@]}")
	"${kb[@]}" --plan >/dev/null || exit 2

	root=${KREFBENCH_PROFILE_DIR:-$top/results/profiles}
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	out=$root/${pos[0]}-${pos[1]}-t$threads-$stamp
	mkdir -p "$root" || die "cannot create $root"
	[ ! -e "$out" ] || out=$out-$$
	mkdir "$out" || die "cannot create $out"
	kb+=(--out "$out/krefbench.csv")

	case $mode in
		stat)
			if [ "$pmu" -eq 1 ]; then
				"$perf" stat -e "$hw_events,$sw_events" -o "$out/perf-stat.txt" -- "${kb[@]}" \
					>"$out/krefbench.out" 2>"$out/krefbench.err" || rc=$?
			else
				echo "note: no hardware PMU here: software events only"
				"$perf" stat -e "$sw_events" -o "$out/perf-stat.txt" -- "${kb[@]}" \
					>"$out/krefbench.out" 2>"$out/krefbench.err" || rc=$?
			fi
			[ -s "$out/perf-stat.txt" ] && sed '/^$/N;/^\n$/D' "$out/perf-stat.txt"
			;;
		record)
			if [ "$pmu" -eq 1 ]; then
				"$perf" record -q -g -o "$out/perf.data" -- "${kb[@]}" \
					>"$out/krefbench.out" 2>"$out/krefbench.err" || rc=$?
			else
				echo "note: no hardware PMU here: sampling on cpu-clock (a software timer), not cycles"
				"$perf" record -q -g -e cpu-clock -o "$out/perf.data" -- "${kb[@]}" \
					>"$out/krefbench.out" 2>"$out/krefbench.err" || rc=$?
			fi
			if [ -s "$out/perf.data" ]; then
				"$perf" report --stdio -i "$out/perf.data" >"$out/perf-report.txt" 2>/dev/null || true
				# The benchmark's own samples (perf also follows the git that records the commit).
				"$perf" report --stdio --no-children -g none -F overhead,dso,sym \
					--comms "$(basename "$bin" | cut -c1-15)" -i "$out/perf.data" 2>/dev/null |
					grep -v -e '^#' -e '^[[:space:]]*$' | sed 's/[[:space:]]*$//' | head -n 20 \
					>"$out/perf-report-top20.txt" || true
				echo "top 20 by self time (full report with call graphs: $out/perf-report.txt):"
				cat "$out/perf-report-top20.txt"
			fi
			;;
		c2c)
			"$perf" c2c record -o "$out/perf.data" -- "${kb[@]}" \
				>"$out/krefbench.out" 2>"$out/krefbench.err" || rc=$?
			if [ -s "$out/perf.data" ]; then
				"$perf" c2c report --stdio -i "$out/perf.data" >"$out/c2c-report.txt" 2>/dev/null || true
				head -n 60 "$out/c2c-report.txt"
			fi
			;;
	esac
	if [ "$rc" -ne 0 ]; then
		tail -n 20 "$out/krefbench.err" >&2
		echo "run.sh: the profiled run exited $rc (output kept in $out)" >&2
		exit "$rc"
	fi
	grep -h '^krefbench: perf counters' "$out/krefbench.err" || true
	# The timed loop's own figures, from the krefbench CSV (empty: not counted here).
	/usr/bin/python3 - "$out/krefbench.csv" <<-'PY' || true
		import csv, sys
		cols = ["ns_per_op", "task_clock_ns_per_op", "context_switches_per_op", "cycles_per_op", "instructions_per_op"]
		for r in csv.DictReader(open(sys.argv[1], newline="")):
		    print("timed loop: %s %s%s t%s: " % (r["backend"], r["workload"], " " + r["variant"] if r.get("variant") else "", r["threads"]) +
		          ", ".join("%s %s" % (c, r.get(c) or "-") for c in cols))
	PY
	echo "profile: $out"
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
# sweep's own: when it writes no results there is nothing to plot.
cmd_main() {
	local bin csv pid rc=0 last=$top/build/last-run
	bin=$(bench_binary)
	rm -f "$last"
	cd "$caller_dir"
	"$bin" --results-dir "$top/results" --print-path-to "$last" "$@" &
	pid=$!
	trap 'kill -INT "$pid" 2>/dev/null' INT
	trap 'kill -TERM "$pid" 2>/dev/null' TERM
	# A trapped signal ends `wait` early: wait until the child itself is gone.
	while :; do
		rc=0
		wait "$pid" || rc=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	trap - INT TERM
	[ -s "$last" ] && [ "$rc" -lt 128 ] || exit "$rc"
	csv=$(cat "$last")
	export KREFBENCH_BIN="$bin" PYTHONPATH="$top/bench"
	/usr/bin/python3 -m analysis.charts "$csv" || echo "run.sh: plotting failed; results are in $csv" >&2
	/usr/bin/python3 -m analysis.decide "$csv" || echo "run.sh: the decision sections failed; results are in $csv" >&2
	echo "results: $csv (environment: ${csv%.csv}.json)"
	/usr/bin/python3 -m analysis.report "$csv" | grep '^report: /' ||
		echo "run.sh: the report failed; results are in $csv" >&2
	exit "$rc"
}

case "${1:-}" in
	test) shift; cmd_test "$@" ;;
	bench) shift; cmd_bench "$@" ;;
	plot) shift; cmd_plot "$@" ;;
	profile) shift; cmd_profile "$@" ;;
	compare) shift; cmd_compare "$@" ;;
	report) shift; cmd_report "$@" ;;
	fleet) shift; cmd_fleet "$@" ;;
	"" | --*) cmd_main "$@" ;;
	-h | help) sed -n '2,8p' "$0" ;;
	*) die "unknown command '$1' (try: ./run.sh help)" ;;
esac
