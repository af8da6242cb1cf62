"""Where the analysis writes: its output folders and the names of the files
in them. Every command writes through here, so one rule holds everywhere:
a name derived from data is made safe first, and an input file is never
overwritten."""
import os

from .cli import InputError, WriteError


def safe_name(text):
    """text as a file-name part: letters, digits, '-', '_' and '.' kept, the rest '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def prepare_out_dir(out_dir):
    """Create out_dir (and its parents) unless it is there; InputError when
    it names something that is not a folder."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"--out {out_dir} exists and is not a directory")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise WriteError(f"cannot create {out_dir}: {e.strerror or e}")


def protected(paths):
    """The real paths of the input files and their sidecars: never written."""
    out = set()
    for p in paths:
        stem = os.path.splitext(p)[0]
        out |= {os.path.realpath(x) for x in (p, stem + ".json", stem + ".gbench.json")}
    return out
