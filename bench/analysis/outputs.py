"""Where the analysis writes: its output folders and the names of the files
in them. Every command writes through here, so one rule holds everywhere:
a name derived from data is made safe first, an input file is never
overwritten, and nothing is written through a symlink or outside the
output folder.

An output folder belongs to the commands named in its marker file
(MARKER, one command name a line). prepare_out_dir() accepts a folder
that does not exist yet, an empty one, or one whose marker names the
command (a previous run of it: its files are replaced); it refuses a
symlink, a file, and a folder holding files that no krefbench command of
that kind made, so a mistyped --out never mixes a report into, say, a
home directory. Each file is written to a fresh temporary made by mkstemp
in the folder (O_CREAT|O_EXCL: never an existing name, never a symlink's
target) and renamed over its name, so a planted symlink at the name is
replaced, not followed, and a reader never sees half a file."""
import contextlib
import hashlib
import os
import tempfile

from .cli import InputError, WriteError

MARKER = ".krefbench-output"
NAME_LIMIT = 64


def safe_name(text, limit=NAME_LIMIT):
    """text as a file-name part: letters, digits, '-', '_' and '.' kept, the
    rest '_'. A name that had to change (other characters, a leading '.',
    '..', more than `limit` characters) is cut to `limit` characters and
    gets '-' and 8 hex digits of its SHA-256, so two different names never
    share a file and no name can climb out of its folder."""
    text = str(text)
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in text)
    if kept == text and text and not text.startswith(".") and len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    kept = kept.lstrip(".").replace("..", "__")[:limit] or "_"
    return f"{kept}-{digest}"


def _marked_for(out_dir):
    try:
        with open(os.path.join(out_dir, MARKER), encoding="utf-8", errors="replace") as f:
            return {line.strip() for line in f.read(4096).splitlines() if line.strip()}
    except OSError:
        return set()


def mark(out_dir, commands):
    """Record that `commands` (names) may write into out_dir."""
    have = _marked_for(out_dir)
    want = have | set(commands)
    if want != have:
        write_text(os.path.join(out_dir, MARKER), "".join(f"{c}\n" for c in sorted(want)))


def prepare_out_dir(out_dir, command):
    """Create out_dir (and its parents) for `command` ('report', 'plot',
    ...), or accept it as MARKER's docstring says; InputError otherwise."""
    if os.path.islink(out_dir):
        raise InputError(f"--out {out_dir} is a symlink; an output folder is never "
                         f"reached through one")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"--out {out_dir} exists and is not a directory")
    if os.path.isdir(out_dir):
        try:
            entries = os.listdir(out_dir)
        except OSError as e:
            raise WriteError(f"cannot read {out_dir}: {e.strerror or e}")
        if entries and command not in _marked_for(out_dir):
            raise InputError(f"--out {out_dir} holds files that no earlier {command} made "
                             f"(no {MARKER} naming it); give a new or empty folder")
    else:
        try:
            os.makedirs(out_dir)
        except OSError as e:
            raise WriteError(f"cannot create {out_dir}: {e.strerror or e}")
    mark(out_dir, [command])


def subdir(out_dir, name):
    """out_dir/name, a folder made here (name: one safe_name part); refuses a
    symlink or a file at that name."""
    if not name or name.startswith(".") or os.sep in name or len(name) > NAME_LIMIT + 9:
        raise WriteError(f"internal: {name!r} is not a safe_name() folder name")
    path = os.path.join(out_dir, name)
    try:
        os.mkdir(path)
    except FileExistsError:
        if os.path.islink(path) or not os.path.isdir(path):
            raise WriteError(f"{path} exists and is not a folder this command made")
    except OSError as e:
        raise WriteError(f"cannot create {path}: {e.strerror or e}")
    return path


@contextlib.contextmanager
def created(path, mode="w", protect=()):
    """A file object for path, written to a fresh mkstemp temporary beside it
    and renamed over path when the block ends without an exception (removed
    otherwise). WriteError when it cannot be written or path is an input."""
    if os.path.realpath(path) in protect:
        raise WriteError(f"refusing to overwrite input file {path}")
    folder, base = os.path.split(path)
    if os.path.isdir(path) and not os.path.islink(path):
        raise WriteError(f"cannot write {path}: a folder has that name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base[:80]}.", suffix=".tmp", dir=folder or ".")
    except OSError as e:
        raise WriteError(f"cannot write {path}: {e.strerror or e}")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8",
                                                             "newline": ""})) as f:
            yield f
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise WriteError(f"cannot write {path}: {e.strerror or e}")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path, text, protect=()):
    with created(path, "w", protect) as f:
        f.write(text)


def write_bytes(path, data, protect=()):
    with created(path, "wb", protect) as f:
        f.write(data)


def protected(paths):
    """The real paths of the input files and their sidecars: never written."""
    out = set()
    for p in paths:
        stem = os.path.splitext(p)[0]
        out |= {os.path.realpath(x) for x in (p, stem + ".json", stem + ".gbench.json")}
    return out


# ---------------------------------------------------------------- data where it lands

def csv_cell(value):
    """A cell of a CSV written for a spreadsheet: a text cell starting with
    = + - @ (or TAB/CR) is prefixed with ' so that no spreadsheet reads it as
    a formula; numbers are left as they are."""
    if not isinstance(value, str) or not value or value[0] not in "=+-@\t\r":
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value
