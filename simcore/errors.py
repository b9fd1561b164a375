"""What the engine says about code it cannot run: the error that stops it (`WorkflowCodeError`, with the
file and line), and messages about a value or an exception that never raise while they are made.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

EXIT = "sys.exit() would stop the worker itself, not the code; raise an exception (or return) instead"


class WorkflowCodeError(TypeError):
    """Code that breaks the engine's rules (a yield that is not a command, a sys.exit(), a loop that never
    ends): a bug to fix in the code, not in its history. `where`: its file and line (an argument, not an
    attribute: SimPy raises a copy made from the arguments)."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(message, where)

    def __str__(self):
        return self.args[0]

    @property
    def where(self) -> str:
        return self.args[1]


class Stop(BaseException):
    """Raised by the engine's own machinery through the code it runs (a store that failed under an
    activity, a time limit): it passes every catch of the code's own errors."""


def shown(value, width: int = 40) -> str:
    """`value` in at most `width` characters, for a message; never raises (the repr of an int of 5,000
    digits, of a list nested 5,000 deep, or a class's own __repr__ can)."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) <= width else text[:width - 3] + "..."


def said(err: BaseException) -> str:
    """What an exception says (its str()), or that its str() failed: a message never raises."""
    try:
        return str(err)
    except Exception as e:
        return f"<its str() raised {type(e).__name__}>"


def stops_the_worker(err: BaseException, what: str) -> WorkflowCodeError:
    """`what` raised a BaseException that is not an Exception (sys.exit(), a class of its own): caught
    as the code's failure, it would take the worker down instead; the code has to change."""
    tb, where = err.__traceback__, ""
    while tb is not None:   # the deepest frame of Python code: the line that raised
        where, tb = f"{tb.tb_frame.f_code.co_filename}, line {tb.tb_lineno}", tb.tb_next
    how = EXIT if isinstance(err, SystemExit) else ("raise an Exception subclass: the engine records those as the "
                                                   "code's failure; others stop the worker")
    return WorkflowCodeError(f"{what} raised {type(err).__name__}({said(err)}): {how}", where)


class TookTooLong(Stop):
    """Code that ran `seconds` of real time in one go, never handing control back (a `while True:` with
    no yield in it, an activity that sleeps for real): raised where it is running."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


@contextmanager
def wall_clock_limit(seconds: float):
    """Raise `TookTooLong` in the code running `seconds` of real time from now, and every half second
    after (a bare `except:` catches one). A signal timer: only the main thread can set one, where a
    notebook's cells run; elsewhere there is no limit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise TookTooLong(seconds)
    before = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
