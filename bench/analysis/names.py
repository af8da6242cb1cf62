"""What the krefbench binary knows, as it says it (`krefbench --list --format
json`): the backends in core/backends.list's order with their flags, the
workloads in the sweep's order with their variants, the read-side
mechanisms and the floors. No Python file lists any of them itself.

The binary is $KREFBENCH_BIN, else build/release/bench/krefbench (run.sh
builds it and sets KREFBENCH_BIN for every analysis command).
"""
import functools
import json
import os
import subprocess

from .cli import InputError

TOP_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def binary():
    return os.environ.get("KREFBENCH_BIN") or os.path.join(TOP_DIR, "build", "release",
                                                            "bench", "krefbench")


@functools.lru_cache(maxsize=None)
def catalogue():
    """The binary's --list as a dict; InputError when there is no binary to ask."""
    path = binary()
    try:
        proc = subprocess.run([path, "--list", "--format", "json"], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise InputError(f"cannot ask {path} what it knows ({e}): build it with "
                         f"./run.sh bench --help, or set KREFBENCH_BIN")
    if proc.returncode != 0:
        raise InputError(f"{path} --list failed: {proc.stderr.strip()[:200]}")
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        raise InputError(f"{path} --list printed no JSON: {e}")


def backend_order():
    return tuple(b["name"] for b in catalogue()["backends"])


def backend_flags():
    """{backend: set of its flags (counts, deferred_release, ...)}."""
    return {b["name"]: set(b["flags"]) for b in catalogue()["backends"]}


def typesafe_backends():
    return {b["name"] for b in catalogue()["backends"] if b["typesafe"]}


def workload_order():
    return tuple(w["name"] for w in catalogue()["workloads"])


def workload_variants(workload):
    return tuple(next((w["variants"] for w in catalogue()["workloads"]
                       if w["name"] == workload), ()))


def workload_op(workload):
    """What one op of the workload's ns_per_op is ("get+put", "lookup",
    "object lifetime", ...): the unit of its charts; "op" when unknown."""
    return next((w.get("op") or "op" for w in catalogue()["workloads"]
                 if w["name"] == workload), "op")


def readside_mechanisms():
    return tuple(catalogue()["readside_mechanisms"])


def floor_order():
    return tuple(catalogue()["floors"])


def not_schemes():
    """Rows that are not reference-count schemes: backends that count
    nothing (null, the harness) and the read-side mechanisms; shown apart,
    never ranked."""
    return tuple(b["name"] for b in catalogue()["backends"]
                 if "counts" not in b["flags"]) + readside_mechanisms()


def ordered(values, order):
    """values in order's order, then the rest sorted."""
    values = set(values)
    return [v for v in order if v in values] + sorted(values - set(order))
