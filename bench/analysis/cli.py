"""What every command of the package shares: its two errors, its argument
parser, its warnings, and the main wrapper that turns them into one set of
exit codes.

Exit codes, for every command:
  0    done (compare: nothing slower)
  1    a finding (compare: a regression) or the output could not be written
  2    bad input, no answer, or an internal error (a bug: one line; the
       traceback with KREFBENCH_DEBUG=1)
  130  interrupted (^C); 141 the reader closed the pipe
"""
import argparse
import os
import sys

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2
EXIT_WRITE_FAILED = EXIT_FOUND
EXIT_INTERRUPTED, EXIT_CLOSED_PIPE = 130, 141


class InputError(Exception):
    """Bad input or arguments: one '<prog>: ' line, exit 2."""


class WriteError(Exception):
    """The output could not be written: one '<prog>: ' line, exit 1."""


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are InputError (one line, exit 2), not
    argparse's own usage dump and exit."""

    def error(self, message):
        raise InputError(f"{message} (see --help)")


def is_control(c):
    """A character that moves the cursor, ends a line or reorders text on a
    terminal: C0 and C1 controls (ESC, CR, LF, TAB...), DEL, U+2028/2029 and
    the bidirectional overrides and isolates."""
    o = ord(c)
    return o < 0x20 or 0x7F <= o < 0xA0 or o in (0x2028, 0x2029) or \
        0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069


def plain(text):
    """text for one terminal line: every control character shown as '?', so
    data (a name, a host, a message quoting a file) can neither move the
    cursor nor start a line that looks like the program's own."""
    return "".join("?" if is_control(c) else c for c in str(text))


def plain_lines(text):
    """plain() for each line of a multi-line text of ours."""
    return "\n".join(plain(line) for line in str(text).split("\n"))


def warn(prog, msg):
    print(f"{prog}: warning: {plain(msg)}", file=sys.stderr, flush=True)


def note(prog, msg):
    print(f"{prog}: note: {plain(msg)}", file=sys.stderr, flush=True)


def guarded(prog, command):
    """Run command() as prog's main: its exit status, or the codes above with
    one '<prog>: ' line on stderr."""
    try:
        return command()
    except InputError as e:
        print(f"{prog}: {plain(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WriteError as e:
        print(f"{prog}: {plain(e)}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:     # e.g. piped into head
        return EXIT_CLOSED_PIPE
    except Exception as e:  # a bug: one line, the traceback only on request
        if os.environ.get("KREFBENCH_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(e).__name__}: {plain(e)} "
              f"(KREFBENCH_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_BAD_INPUT
