#!/bin/busybox sh
# /init of the vm flavour's guest (busybox sh, PID 1). tests/vm/run_vm.sh puts
# it into the initramfs beside the project's binaries (/kb/bin, with their
# shared libraries) and /kb/vm.conf, boots it, and reads the console.
#
# Everything the host needs comes over the console as lines starting with
# "@kbvm " (the kernel's own messages may come in between):
#   @kbvm shape cpus=N packages=N nodes=N smt=N     read from /sys
#   @kbvm begin NAME / @kbvm end NAME rc=N s=SECONDS  one step
#   @kbvm file NAME, base64 lines, @kbvm endfile NAME  a gzip'd tar of /out/NAME/
#   @kbvm done                                       then power off
# Each step's files go out as soon as it ends, so a step that hangs or
# crashes the guest leaves the earlier ones' results on the host.

# Every repetition of an emulated guest looks disturbed to the benchmark's
# checks; its timing is never judged, so one attempt each (where krefbench
# has retries at all).
no_retries() {
	NO_RETRIES=""
	if krefbench --help 2>&1 | grep -q -- '--retries'; then NO_RETRIES="--retries 0"; fi
}

# Placement: the plans hwloc makes on this topology, and runs that bind by them
# (the CSV's cpus column is where each thread ran after binding). A function
# of this script, so that `timeout` can run it: /init placement (as the
# functions below: /init NAME).
placement() {
	# shellcheck source=/dev/null
	. /kb/vm.conf
	no_retries
	echo "$PLACE_LIST" >list.txt
	krefbench --plan >plan-default.txt || return 1
	for p in compact cores scatter "$PLACE_LIST"; do
		tag=$p
		n=$PLACE_THREADS
		case $p in *,*) tag=list n=$(echo "$p" | awk -F, '{ print NF }') ;; esac
		krefbench --plan --placement "$p" --threads "$n" >"plan-$tag.txt" || return 1
		# shellcheck disable=SC2086
		krefbench --backends null --workloads hammer --threads "$n" --placement "$p" --no-floors \
			--no-perf --reps 1 $NO_RETRIES --time "$PLACE_TIME" --out "run-$tag.csv" >"run-$tag.out" 2>&1 ||
			return 1
	done
}

# The default sweep on this shape: krefbench states its size ("N benchmarks x R
# repetitions of W s windows") before it measures anything; stopped there.
default_sweep() {
	krefbench --no-perf --results-dir /tmp/default-sweep >default.out 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 300 ] && ! grep -q ' benchmarks x ' default.out && kill -0 $pid 2>/dev/null; do
		usleep 100000
		i=$((i + 1))
	done
	kill -INT $pid 2>/dev/null
	wait $pid
	grep ' benchmarks x ' default.out
}

# The quick sweep: every backend x every workload at a few threads; at many
# threads (32, 64: each attempt then costs 1-3 s of TCG, a full product would
# take a quarter of an hour) every backend on hammer and every workload on
# percpu. One value of each option that multiplies rows (the lookups with
# their writer on, kref.rst's get_unless_zero variant, one churn length).
# One CSV and sidecar per part; a part that fails does not stop the others.
sweep() {
	# shellcheck source=/dev/null
	. /kb/vm.conf
	no_retries
	one_each=""
	for o in "--writer-rate 1000" "--variant unless_zero" "--rcu-flavor memb" "--uses 16"; do
		if krefbench --help 2>&1 | grep -q -- "^ *${o% *} "; then one_each="$one_each $o"; fi
	done
	rc=0
	for part in all backends workloads; do
		case $part in
			all) what="--backends $SWEEP_BACKENDS --workloads all --threads $SWEEP_FEW_THREADS" ;;
			backends) what="--backends $SWEEP_BACKENDS --workloads hammer --threads $SWEEP_MANY_THREADS" ;;
			workloads) what="--backends $SWEEP_WIDE_BACKEND --workloads all --threads $SWEEP_MANY_THREADS" ;;
		esac
		echo "sweep part $part: krefbench $what$one_each"
		# shellcheck disable=SC2086
		krefbench $what $one_each --reps "$SWEEP_REPS" $NO_RETRIES --time "$SWEEP_TIME" --no-perf \
			--out "sweep-$part.csv" >"sweep-$part.log" 2>&1 || { echo "sweep part $part: exit $?"; rc=1; }
		tail -n 3 "sweep-$part.log"
	done
	return $rc
}

case ${1:-} in
	placement | default_sweep | sweep) "$1"; exit ;;
esac

/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# Our lines go to the serial port the kernel names with kbvm.out= (run_vm.sh:
# ttyS0, while the kernel's own messages go to its console on ttyS1, so that
# they never split a line of a file in transit); /dev/console without it.
out_tty=console
for w in $(cat /proc/cmdline); do
	case $w in kbvm.out=tty[A-Za-z]*[0-9]) out_tty=${w#kbvm.out=} ;; esac
done
exec >"/dev/$out_tty" 2>&1
hostname kbvm
export PATH=/kb/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp
# shellcheck source=/dev/null
. /kb/vm.conf

say() { echo "@kbvm $*"; }

uptime_s() { read -r up _ </proc/uptime; echo "$up"; }

# send NAME: /out/NAME/ as a gzip'd tar, base64, between markers.
send() {
	say "file $1"
	tar -C /out -czf - "$1" | base64
	say "endfile $1"
}

# step NAME TIMEOUT CMD...: run CMD with its output in /out/NAME/log, send it.
step() {
	name=$1 limit=$2
	shift 2
	mkdir -p "/out/$name"
	say "begin $name"
	t0=$(uptime_s)
	rc=0
	(cd "/out/$name" && timeout "$limit" "$@") >"/out/$name/log" 2>&1 || rc=$?
	t1=$(uptime_s)
	say "end $name rc=$rc s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
	[ "$rc" -eq 0 ] || tail -n 15 "/out/$name/log" | sed "s/^/  $name: /"
	send "$name"
}

# The shape as the guest kernel sees it, and every CPU's place in it.
topology() {
	out=/out/topology/cpus.txt
	echo "# cpu package core_id node thread_siblings_list" >"$out"
	for d in /sys/devices/system/cpu/cpu[0-9]*; do
		c=${d##*/cpu}
		node=-1
		for n in "$d"/node[0-9]*; do [ -e "$n" ] && node=${n##*/node}; done
		echo "$c $(cat "$d/topology/physical_package_id") $(cat "$d/topology/core_id") $node" \
			"$(cat "$d/topology/thread_siblings_list")" >>"$out"
	done
	cat /sys/devices/system/cpu/online >/out/topology/online.txt
	uname -r >/out/topology/kernel.txt
	for n in /sys/devices/system/node/node[0-9]*; do
		echo "${n##*/node} $(cat "$n/cpulist") $(awk '/MemTotal/ { print $4 }' "$n/meminfo")"
	done >/out/topology/nodes.txt
	cpus=$(grep -vc '^#' "$out")
	packages=$(grep -v '^#' "$out" | awk '{ print $2 }' | sort -u | wc -l)
	nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
	smt=$(awk -F, '{ print NF }' /sys/devices/system/cpu/cpu0/topology/thread_siblings_list)
	case $(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list) in
		*-*) smt=$(awk -F- '{ print $2 - $1 + 1 }' /sys/devices/system/cpu/cpu0/topology/thread_siblings_list) ;;
	esac
	say "shape cpus=$cpus packages=$packages nodes=$nodes smt=$smt online=$(cat /sys/devices/system/cpu/online) uptime=$(uptime_s)"
}

mkdir -p /out/topology
topology
send topology

step placement "$STEP_TIMEOUT" /init placement

# The project's own tests on this machine (KREFBENCH_EMULATED: test_rseq's
# shorter stress, as under qemu-user).
export KREFBENCH_EMULATED=1
for t in test_placement test_percpu test_rseq test_percpu_numa test_percpu_all_cpus; do
	step "$t" "$STEP_TIMEOUT" "/kb/bin/$t"
done

# The default sweep's size on this shape.
step default_sweep "$STEP_TIMEOUT" /init default_sweep

# The quick sweep.
mkdir -p /out/sweep
echo "$SWEEP_FEW_THREADS,$SWEEP_MANY_THREADS" >/out/sweep/threads.txt
step sweep "$SWEEP_TIMEOUT" /init sweep

say done
sync
poweroff -f
