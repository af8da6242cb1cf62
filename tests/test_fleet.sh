#!/usr/bin/env bash
# ./run.sh fleet end to end, for real, on this machine as a fleet of four:
#   host-local   ansible_connection=local
#   host-ssh     ssh to 127.0.0.1, through a private sshd on a free port with a
#                host key and a client key made here for the test
#   host-down    ssh to a port nobody listens on (unreachable)
#   host-broken  local, its tree in a folder that cannot be made (a task fails)
# with a quick sweep (atomic and percpu, hammer). Checks: the two good hosts'
# CSV and sidecars fetched into results/fleet-<UTC>/<host>/, the two bad ones
# named on stderr and in the report with their error, exit 1 (a host failed),
# report.html and report.md with both good hosts, an earlier run's folder
# untouched. Needs root (sshd) and openssh-server (.ci/run installs it).
#
#   tests/test_fleet.sh TOP WORKDIR [fleet options, e.g. --rev HEAD]
set -u
top=$1 work=$2
shift 2
. "$top/tests/check.sh"
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	fail "test_fleet needs root to start sshd for its ssh host (run it as root, as CI does)"
	check_summary
	exit 1
fi
if [ ! -x /usr/sbin/sshd ]; then
	fail "test_fleet needs /usr/sbin/sshd: apt-get install -y openssh-server (.ci/run does)"
	check_summary
	exit 1
fi

# A private sshd on 127.0.0.1, keys made for this test only.
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
chmod 600 "$work/authorized_keys"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $work/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
trap 'kill "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null' EXIT
ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5)
up=""
for _ in $(seq 50); do
	if ssh "${ssh_opts[@]}" -i "$work/client_key" -p "$port" "$(id -un)@127.0.0.1" true 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "$sshd_pid" 2>/dev/null || break
	sleep 0.2
done
check "sshd for the ssh host answers on 127.0.0.1:$port with the test key" test -n "$up"
[ -n "$up" ] || { tail -5 "$work/sshd.log"; check_summary; exit 1; }

cat >"$work/inventory" <<EOF
[bench]
host-local  ansible_connection=local ansible_python_interpreter=/usr/bin/python3
host-ssh    ansible_host=127.0.0.1 ansible_port=$port ansible_user=$(id -un) ansible_ssh_private_key_file=$work/client_key ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' ansible_python_interpreter=/usr/bin/python3
host-down   ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_common_args='-o ConnectTimeout=5'
host-broken ansible_connection=local ansible_python_interpreter=/usr/bin/python3 krefbench_dir=/proc/no-such-dir/krefbench
EOF

# An earlier fleet run's folder must stay as it was.
mkdir -p "$top/results"
earlier=$(mktemp -d "$top/results/fleet-19700101T000000Z-test-XXXX")
echo "earlier" >"$earlier/keep.txt"

start=$SECONDS
rc=0
"$top/run.sh" fleet "$work/inventory" --remote-dir "$work/remote" "$@" \
	--quick --backends atomic,percpu --workloads hammer >"$work/fleet.out" 2>"$work/fleet.err" || rc=$?
echo "# ./run.sh fleet took $((SECONDS - start)) s (exit $rc)"
check "fleet exits 1 when a host failed (got $rc)" test "$rc" -eq 1
dir=$(sed -n 's/^fleet: .* report: \(.*\)\/report.html$/\1/p' "$work/fleet.out" | tail -n1)
check "fleet names its folder and report ($dir)" test -n "$dir" -a -d "$dir"
case $dir in "$top"/results/fleet-2*) pass "the folder is results/fleet-<UTC>" ;; *) fail "folder $dir is not results/fleet-<UTC>" ;; esac
for h in host-local host-ssh; do
	csv=$(ls "$dir/$h/"*.csv 2>/dev/null | head -n1)
	check "$h: CSV fetched into $h/" test -s "$csv"
	check "$h: sidecar fetched" test -s "${csv%.csv}.json"
	check "$h: Google Benchmark JSON fetched" test -s "${csv%.csv}.gbench.json"
	check "$h: the CSV has hammer rows of atomic and percpu" \
		bash -c "grep -q '^atomic,hammer,' '$csv' && grep -q '^percpu,hammer,' '$csv'"
	check "$h: named in report.md" grep -q "($h)" "$dir/report.md"
done
check "host-down named on stderr as unreachable" grep -q '^fleet: host-down: FAILED: unreachable' "$work/fleet.err"
check "host-broken named on stderr with the failed task" \
	grep -q "^fleet: host-broken: FAILED: the tree's folder on the host: .*no-such-dir" "$work/fleet.err"
check "the report names both failed hosts" \
	bash -c "grep -q 'host-down: FAILED' '$dir/report.md' && grep -q 'host-broken: FAILED' '$dir/report.md'"
check "report.html written, nothing fetched from the network" \
	bash -c "test -s '$dir/report.html' && ! grep -qiE '<script[^>]+src=.https?:' '$dir/report.html'"
check "no results for the failed hosts" bash -c "! ls '$dir'/host-down/*.csv '$dir'/host-broken/*.csv 2>/dev/null | grep -q ."
check "an earlier fleet folder untouched" bash -c "test \"\$(ls '$earlier')\" = keep.txt && grep -qx earlier '$earlier/keep.txt'"
rm -rf "$earlier"
# Bad input: one line, exit 2, no folder made.
before=$(ls -d "$top"/results/fleet-* 2>/dev/null | wc -l)
rc=0
"$top/run.sh" fleet "$work/no-such-inventory" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
check "a missing inventory: exit 2, one line" bash -c "test $rc -eq 2 && test \$(wc -l <'$work/bad.err') -eq 1"
rc=0
"$top/run.sh" fleet "$work/inventory" --out x.csv >"$work/bad.out" 2>"$work/bad.err" || rc=$?
check "--out is the playbook's: exit 2, one line" bash -c "test $rc -eq 2 && grep -q 'playbook' '$work/bad.err'"
after=$(ls -d "$top"/results/fleet-* 2>/dev/null | wc -l)
check "bad input makes no fleet folder" test "$before" -eq "$after"
check_summary
