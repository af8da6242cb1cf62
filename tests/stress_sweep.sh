#!/usr/bin/env bash
# Stress through the benchmark binary itself, every backend. `rcu`: every
# reclamation of lookup_rcu (RCU flavours, hazard pointers, type-stable
# reuse); `mutex`: every lookup_mutex variant; both with a fast writer
# replacing objects under the readers. `workloads`: every other workload at
# 1, 2 and 4 threads (4 oversubscribe this machine, so threads are preempted
# inside their operations), short windows. Each run's self-check counts
# every object created, released (exactly once) and freed (exactly once,
# after its last reader) and looks for poisoned memory; the binary exits
# non-zero when any check fails. Under the tsan/asan flavours the same runs
# are race- and use-after-free-checked.
set -euo pipefail
bin=$1 work=$2 which=$3
rm -rf "$work"
mkdir -p "$work"
passed=0 failed=0

run() {
	local name=$1
	shift
	# a later --threads or --time in "$@" wins
	if "$bin" --reps 1 --time 0.02 --threads 1,2 --no-floors --objects 64 --out "$work/$name.csv" "$@" \
		>"$work/$name.out" 2>&1; then
		local rows bad
		rows=$(($(wc -l <"$work/$name.csv") - 1))
		bad=$(/usr/bin/python3 -c 'import csv, sys; print(sum(r["check"] != "ok" for r in csv.DictReader(open(sys.argv[1]))))' "$work/$name.csv" || echo error)
		if [ "$rows" -gt 0 ] && [ "$bad" = 0 ]; then
			echo "ok - $name: $rows rows, every check ok"
			passed=$((passed + 1))
			return
		fi
	fi
	echo "FAIL - $name (see $work/$name.out)"
	tail -n 20 "$work/$name.out"
	failed=$((failed + 1))
}

case $which in
rcu)
	run lookup_rcu_memb --workloads lookup_rcu --rcu-flavor memb --writer-rate 0,20000
	run lookup_rcu_qsbr --workloads lookup_rcu --rcu-flavor qsbr --writer-rate 20000
	run lookup_rcu_mb --workloads lookup_rcu --rcu-flavor mb --writer-rate 20000
	run lookup_rcu_hot --workloads lookup_rcu --hot --writer-rate 20000
	# over the array of slots; typesafe runs only where the counter allows it
	for r in memb_array hazptr typesafe; do
		run "lookup_rcu_$r" --workloads lookup_rcu --rcu-flavor "$r" --writer-rate 0,20000
		run "lookup_rcu_${r}_hot" --workloads lookup_rcu --rcu-flavor "$r" --hot --writer-rate 20000
	done
	;;
mutex)
	for v in locked put_return unless_zero put_mutex; do
		run "lookup_mutex_$v" --workloads lookup_mutex --variant "$v" --writer-rate 0,20000
		run "lookup_mutex_${v}_hot" --workloads lookup_mutex --variant "$v" --hot --writer-rate 20000
	done
	;;
workloads)
	for w in hammer private spread handoff readside churn release_latency read; do
		run "$w" --workloads "$w" --threads 1,2,4 --oversubscribe --time 0.01 --retries 0
	done
	;;
*)
	echo "usage: stress_sweep.sh BINARY WORKDIR rcu|mutex|workloads" >&2
	exit 2
	;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
