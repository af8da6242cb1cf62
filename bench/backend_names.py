"""The backends and their order, read from core/backends.list: the one list
that core/kref.h, the runtime table and the benchmark bodies are generated
from. compare.py and plots/plot.py order (and style) backends by it, so no
Python file lists backends itself."""

import os

LIST_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))),
                         "core", "backends.list")


def read(path=LIST_PATH):
    """Backend names in the list's order: the first field of each line that
    is neither blank nor a # comment."""
    try:
        with open(path, encoding="utf-8") as f:
            names = [line.split()[0] for line in f
                     if line.strip() and not line.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        raise ImportError(f"cannot read the list of backends {path}: {e}") from e
    if not names:
        raise ImportError(f"the list of backends {path} names no backend")
    return tuple(names)


BACKEND_ORDER = read()
