#!/usr/bin/env bash
# How often the vm flavour's 64-vCPU guest stalls at boot, and how long it takes
# to state its shape: boots the guest run_vm.sh builds N times (default 20),
# each under the same watchdog as the flavour (bound, retries) and stopped at its
# shape line, then prints boots, hangs, retries and the min/median/max time to
# the shape (host wall clock from qemu's start, and the guest's own uptime).
#
#   tests/vm/boot_stats.sh [N] [run_vm.sh options...]
#
# Stalled attempts keep their console and kernel messages in
# build/vm/out/*.bootK.attemptJ.log. KB_VM_BOOT_BOUND and KB_VM_BOOT_ATTEMPTS
# set the watchdog (run_vm.sh --help).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=${1:-20}
[ $# -eq 0 ] || shift
exec "$here/run_vm.sh" --boot-stats "$n" "$@"
