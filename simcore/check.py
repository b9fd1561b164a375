"""Verify a history: say exactly what is wrong and where, without trusting or changing anything.

`History.read` stops at the first bad row, which is right for an engine about to replay. A person
looking at a damaged file wants the whole list, so this module reads the raw rows itself, through a
read-only connection (checking never writes, and works on a read-only folder), and reports every
problem it finds:

- the file: a SQLite database, intact (`PRAGMA quick_check`), with the tables and format of a history;
- each row: an integer id continuing the sequence without a gap, a known event type, a JSON object
  payload with exactly the event's fields, each of the declared type, a finite time;
- the story: it starts with `WorkflowExecutionStarted` (once, for this workflow id), nothing follows a
  closing event, every result refers to an earlier command of the right kind that has no result yet,
  activity and timer ids are not reused;
- the code: when the workflow type is one we know, the history replays against it without
  non-determinism (a history written by different code is reported, not run live).

Loading a row builds a frozen dataclass from JSON: a history is data and never runs code.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field, fields
from pathlib import Path

from . import events as ev
from .codec import from_record
from .history import DB_ERRORS, FORMAT, db_error, opened

TYPES = {"str": (str,), "int": (int,), "float": (int, float), "list": (list,), "dict": (dict,),
         "dict | None": (dict, type(None))}   # "Any": anything JSON
TIMEOUTS = {"WorkflowTaskTimedOut": ("START_TO_CLOSE", "SCHEDULE_TO_START"),
            "ActivityTaskTimedOut": ("StartToCloseTimeout", "HeartbeatTimeout", "ScheduleToCloseTimeout",
                                     "ScheduleToStartTimeout")}
STARTS_OR_ENDS = {"ActivityTaskStarted": "scheduled_event_id", "TimerCanceled": "started_event_id"}   # and RESULT_OF
WAKES = (*ev.RESULT_OF, *ev.MESSAGES)   # what the code must be handed: a workflow task is scheduled for it
NO_TASK = ("arrived with no workflow task on its way, and none was scheduled after it: the engine records an "
           "arrival and the task that hands it to the code in one append; the history was cut short or edited, "
           "and nothing would wake the workflow")
LATEST = 1e11   # seconds: past year 5000 from 1970; an event time beyond it is not one a clock wrote


class NotText(str):
    """A stored text value that is not UTF-8 (a flipped byte): shown with its bytes escaped, reported."""


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return NotText(raw.decode("utf-8", "backslashreplace"))


@dataclass(frozen=True)
class Problem:
    where: str                  # the file (and workflow) the problem is in
    message: str
    event_id: int | None = None

    def __str__(self):
        return f"{self.where}: {self.message}"


@dataclass
class Report:
    path: Path
    workflows: dict = field(default_factory=dict)   # workflow id -> number of rows
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write, and leaves no trace: reading must not change the folder.

    With no WAL beside the file, no writer is at work (a writer keeps its WAL while it runs), and the
    file is opened as immutable: SQLite then creates no -wal or -shm file of its own, which it would
    otherwise leave behind, and it works in a read-only folder. With a WAL (a writer at work, or one
    killed), the file is opened read-only the ordinary way, so what the WAL holds is read too."""
    path = Path(path).resolve()
    wal = path.with_name(path.name + "-wal")
    if not wal.exists():
        return sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        if wal.exists() and wal.stat().st_size:
            raise
    return sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)


def read_rows(path: Path) -> dict[tuple[str, str], list[tuple]]:
    """Every stored row, grouped by (workflow id, run id), in event id order. Raises `HistoryError`,
    naming the file, for a file SQLite cannot read or a database that is not a history. A text value
    that is not UTF-8 comes back as a `NotText`, for `parse_rows` to report."""
    try:
        return _read_rows(path)
    except DB_ERRORS as e:
        raise ev.HistoryError(f"{path}: cannot read as a history file ({db_error(e)})") from None


def _read_rows(path: Path) -> dict[tuple[str, str], list[tuple]]:
    db = connect_readonly(path)
    db.text_factory = _text
    try:
        if not opened(db, path, "history", FORMAT, {"meta", "events"}):
            return {}   # an empty database: a history being created
        runs: dict[tuple[str, str], list[tuple]] = {}
        for wid, run, *rest in db.execute("SELECT workflow_id, run_id, event_id, type, time, payload "
                                          "FROM events ORDER BY workflow_id, run_id, event_id"):
            runs.setdefault((wid, run), []).append(tuple(rest))
        return runs
    finally:
        db.close()


def check_file(path, workflows: dict | None = None, workflow_id: str | None = None) -> Report:
    """Check every workflow history in the file at `path` (or only `workflow_id`'s). `workflows`
    (name -> WorkflowDef): the code the histories are replayed against."""
    path = Path(path)
    report = Report(path)
    if not path.is_file():
        report.problems.append(Problem(str(path), "no such file" if not path.exists() else "not a file"))
        return report
    try:
        db = connect_readonly(path)
        try:
            damage = [r[0] for r in db.execute("PRAGMA quick_check")]
        finally:
            db.close()
        if damage != ["ok"]:
            report.problems += [Problem(str(path), f"damaged database: {d}") for d in damage[:10]]
        runs = read_rows(path)
    except ev.HistoryError as e:
        report.problems.append(Problem(str(path), str(e).removeprefix(f"{path}: ")))
        return report
    except DB_ERRORS as e:
        report.problems.append(Problem(str(path), f"cannot read as a history file ({db_error(e)})"))
        return report
    chains: dict[str, dict[str, list]] = {}
    for (wid, run), rows in runs.items():
        if workflow_id is not None and wid != workflow_id:
            continue
        report.workflows[wid if run == "1" else f"{wid} run {run}"] = len(rows)
        where = f"{path} workflow {wid!r}" + (f" run {run!r}" if run != "1" else "")
        report.problems += check_rows(rows, wid, where, workflows)
        chains.setdefault(wid, {})[run] = rows
    for wid, chain in chains.items():
        report.problems += check_runs(chain, f"{path} workflow {wid!r}")
    return report


def check_runs(chain: dict, where: str) -> list[Problem]:
    """A workflow's runs (run id -> its rows) as one chain: numbered 1, 2, ... with none missing,
    each run but the last closed by continuing as new, into the run that follows it. A run the chain
    does not reach is hidden from the engine, which resumes only the newest run."""
    problems, numbered = [], sorted(int(r) for r in chain if isinstance(r, str) and r.isdecimal() and r == str(int(r)))
    for run in sorted(set(chain) - {str(n) for n in numbered}, key=str):
        problems.append(Problem(where, f"run id {run!r} is not a run number: a workflow's runs are 1, 2, ... as "
                                       "it continues as new, and the engine would not see this one"))
    if numbered and numbered != list(range(1, len(numbered) + 1)):
        return problems + [Problem(where, f"runs {', '.join(map(str, numbered))} are stored: a run of the chain "
                                          "is missing")]
    for n in numbered[1:]:
        last, first = event_of(chain[str(n - 1)][-1], where), event_of(chain[str(n)][0], where)
        if last is None or first is None:
            continue   # a row that cannot be read: check_rows says so
        if not isinstance(last, ev.WorkflowExecutionContinuedAsNew):
            problems.append(Problem(where, f"run {n} follows run {n - 1}, which did not continue as new (it ends "
                                           f"at event {last.event_id}, {last.type})"))
        elif not isinstance(first, ev.WorkflowExecutionStarted) or first.run_id != last.new_run_id:
            problems.append(Problem(where, f"run {n} is not the run that run {n - 1} continued as new into "
                                           f"({last.new_run_id!r})"))
    return problems


def event_of(row, where: str) -> ev.Event | None:
    """One stored row as its event, or None if it cannot be one, or has a field of the wrong type
    (`parse_rows` says why)."""
    try:
        e = from_record(*row, where)
    except (ev.HistoryError, TypeError, ValueError, RecursionError):
        return None
    return None if field_problems(e) else e


def parse_rows(rows, where: str) -> tuple[list[ev.Event | None], list[Problem]]:
    """Each raw row as an event (None where the row cannot be one), and the problems of each row."""
    events, problems = [], []
    expected = 1
    for event_id, type_name, time, payload in rows:
        def bad(message, eid=event_id, t=type_name):
            problems.append(Problem(where, f"event {eid} ({t}): {message}", eid if isinstance(eid, int) else None))
        if not isinstance(event_id, int) or isinstance(event_id, bool):
            bad(f"event id {event_id!r} is not an integer")
            events.append(None)
            continue
        if event_id != expected:
            missing = f"event {expected}" if event_id == expected + 1 else f"events {expected}..{event_id - 1}"
            problems.append(Problem(where, f"{missing} missing: the sequence jumps from {expected - 1} to "
                                           f"{event_id}", expected))
        expected = event_id + 1
        if not isinstance(time, (int, float)) or isinstance(time, bool) or not math.isfinite(time):
            bad(f"time {time!r} is not a number of seconds")
            time = 0.0
        elif not 0 <= time < LATEST:
            bad(f"time {time!r} is not a time the engine writes (seconds from 0 to {LATEST:g})")
            time = 0.0
        undecodable = [what for what, v in (("type", type_name), ("payload", payload)) if isinstance(v, NotText)]
        if undecodable:
            bad(f"its {' and '.join(undecodable)} is not UTF-8 text (a damaged byte?): {str(payload)[:60]!r}")
            events.append(None)
            continue
        try:
            e = from_record(event_id, type_name, float(time), payload, where)
        except ev.HistoryError as err:
            problems.append(Problem(where, str(err).removeprefix(f"{where} "), event_id))
            events.append(None)
            continue
        except RecursionError:
            bad("payload is JSON nested too deeply to be an event's")
            events.append(None)
            continue
        wrong = field_problems(e)
        for message in wrong:
            bad(message)
        events.append(None if wrong else e)
    return events, problems


def field_problems(e: ev.Event) -> list[str]:
    """What is wrong with the values of one event's fields: each must be of its declared type, and
    the few with a fixed vocabulary or shape (timeouts, a failure, activity options) must have it."""
    out = []
    t = e.time
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not (math.isfinite(t) and 0 <= t < LATEST):
        out.append(f"time {t!r} is not a number of seconds the engine writes")
    for f in fields(e)[2:]:
        value = getattr(e, f.name)
        if _wrong_type(value, str(f.type)):
            out.append(f"field {f.name} should be {f.type}, got {type(value).__name__} {str(value)[:40]!r}")
    if out:
        return out
    if e.type in TIMEOUTS and e.timeout_type not in TIMEOUTS[e.type]:
        out.append(f"timeout_type {e.timeout_type[:40]!r} is not one of {', '.join(TIMEOUTS[e.type])}")
    if isinstance(e, ev.ActivityTaskStarted) and e.last_failure is not None and (
            e.last_failure.keys() != {"error_type", "message"}
            or not all(isinstance(v, str) for v in e.last_failure.values())):
        out.append(f"last_failure should be {{\"error_type\": str, \"message\": str}} or null, got "
                   f"{str(e.last_failure)[:60]!r}")
    if isinstance(e, ev.ActivityTaskScheduled):
        from .retry import ActivityOptions
        try:
            ActivityOptions.from_json(e.options)
        except (TypeError, ValueError) as err:
            out.append(f"options are not a retry policy and timeouts ({err}): {str(e.options)[:60]!r}")
    return out


def _wrong_type(value, declared: str) -> bool:
    allowed = TYPES.get(declared)
    return allowed is not None and (not isinstance(value, allowed) or isinstance(value, bool))


def check_rows(rows, workflow_id: str, where: str, workflows: dict | None = None) -> list[Problem]:
    """Every problem of one workflow's rows: the rows themselves, then the references between them
    (a reference to a row already reported as bad is not reported again)."""
    events, problems = parse_rows(rows, where)
    good = [e for e in events if e is not None]
    unreadable = {r[0] for r, e in zip(rows, events) if e is None and isinstance(r[0], int)}
    problems += check_story(good, workflow_id, where, unreadable)
    if not problems and good and workflows is not None:
        problems += check_code(good, workflow_id, where, workflows)
    return problems


def check_events(events: list[ev.Event], workflow_id: str, where: str, workflows: dict | None = None):
    """The same checks for events already read (by `History.read`): the fields, the story and the code."""
    problems = [Problem(where, f"event {e.event_id} ({e.type}): {m}", e.event_id)
                for e in events for m in field_problems(e)]
    if problems:
        return problems
    problems = check_story(events, workflow_id, where)
    return problems or (check_code(events, workflow_id, where, workflows) if workflows is not None else [])


def check_story(events: list[ev.Event], workflow_id: str, where: str, unreadable=frozenset()) -> list[Problem]:
    """References between events: what may come first, what a result answers, what comes last.
    `unreadable`: ids of rows that could not be read, whose content is unknown."""
    problems = []
    by_id = {e.event_id: e for e in events}
    closed_at = None
    answered: dict[int, int] = {}   # command event id -> the event that answered it
    started_attempt: set[int] = set()
    ids: dict[tuple[str, str], int] = {}
    task_pending, waking = False, None   # a workflow task on its way; the first arrival none will hand over

    def bad(e, message):
        problems.append(Problem(where, f"event {e.event_id} ({e.type}): {message}", e.event_id))

    def unhanded(e):   # (an arrival already wrong in itself, or next to a row unread, is not news)
        if not unreadable and all(p.event_id != e.event_id for p in problems):
            bad(e, NO_TASK)
    if events and events[0].event_id == 1 and not isinstance(events[0], ev.WorkflowExecutionStarted):
        bad(events[0], "a history must begin with WorkflowExecutionStarted")
    for e in events:
        if closed_at is not None:
            bad(e, f"comes after the workflow closed at event {closed_at}")
        if isinstance(e, ev.WorkflowExecutionStarted):
            if e.event_id != 1:
                bad(e, "the workflow can start only once, at event 1")
            elif e.workflow_id != workflow_id:
                bad(e, f"starts workflow {e.workflow_id!r} but is stored as the history of {workflow_id!r}")
        elif e.type in ev.CLOSING:
            closed_at = closed_at or e.event_id
        kind = {"ActivityTaskScheduled": "activity", "TimerStarted": "timer"}.get(e.type)
        if kind:
            own = e.activity_id if kind == "activity" else e.timer_id
            if (kind, own) in ids:
                bad(e, f"{kind} id {own!r} was already used by event {ids[kind, own]}")
            ids.setdefault((kind, own), e.event_id)
        if e.type == "WorkflowTaskScheduled":
            task_pending, waking = True, None
        elif e.type in WAKES and not task_pending:
            waking = waking or e   # (several may arrive in one append, before its task)
        elif waking:   # something else came next: no task was scheduled for it
            unhanded(waking)
            waking = None
        if e.type in ("WorkflowTaskCompleted", "WorkflowTaskFailed"):
            task_pending = False   # (a task that timed out is retried: a result waits for that retry)
        if e.type in ev.WORKFLOW_TASK[1:]:
            task = by_id.get(e.scheduled_event_id)
            if task is None or task.type != "WorkflowTaskScheduled" or e.scheduled_event_id >= e.event_id:
                bad(e, f"scheduled_event_id {e.scheduled_event_id} refers to no earlier WorkflowTaskScheduled")
            continue
        ref_field = ev.RESULT_OF.get(e.type) or STARTS_OR_ENDS.get(e.type)
        if ref_field is None:
            continue
        ref = getattr(e, ref_field)
        if ref in unreadable:
            continue
        target = by_id.get(ref)
        timer = e.type in ("TimerFired", "TimerCanceled")   # a timer's two ends: it fires, or it is cancelled
        wanted = "TimerStarted" if timer else "ActivityTaskScheduled"
        if target is None or ref >= e.event_id:
            bad(e, f"{ref_field} {ref} refers to no earlier event")
        elif target.type != wanted:
            bad(e, f"{ref_field} {ref} refers to a {target.type}, not an {wanted}")
        elif ref in answered:
            bad(e, f"the {wanted} at event {ref} was already answered by event {answered[ref]}")
        elif e.type == "ActivityTaskStarted":
            started_attempt.add(ref)
            if e.attempt < 1:
                bad(e, f"attempt {e.attempt}: attempts count from 1")
        elif timer and e.timer_id != target.timer_id:
            bad(e, f"{'fires' if e.type == 'TimerFired' else 'cancels'} timer {e.timer_id!r} but event {ref} started "
                   f"timer {target.timer_id!r}")
        elif not timer and ref not in started_attempt and not unreadable and \
                getattr(e, "timeout_type", "") != "ScheduleToStartTimeout":
            bad(e, f"no ActivityTaskStarted for the activity scheduled at event {ref} comes before it")
        if e.type != "ActivityTaskStarted" and target is not None:
            answered.setdefault(ref, e.event_id)
    if waking and closed_at is None:
        unhanded(waking)
    return problems


def check_code(events: list[ev.Event], workflow_id: str, where: str, workflows: dict) -> list[Problem]:
    """Replay the history against the code of its workflow type: the code must make the same decisions."""
    from .replay import Machine, NonDeterminismError
    start = events[0]
    code = workflows.get(start.workflow_type)
    if code is None:
        return [Problem(where, f"event 1 (WorkflowExecutionStarted): workflow type {start.workflow_type!r} is "
                               f"not one this engine runs (known: {', '.join(sorted(workflows))}); name its code with "
                               "--workflow MODULE:NAME", 1)]
    # replay only: code that would run past the end of an unfinished history stops there, unrun
    try:
        made = Machine(code, workflow_id).feed(events).frontier
    except NonDeterminismError as err:
        return [Problem(where, f"written by different code: {err}", err.index)]
    except Exception as e:   # the code met data it cannot take (a hand-edited input, say)
        return [Problem(where, f"replaying {start.workflow_type} failed: {type(e).__name__}: {e}")]
    end = events[-1]
    if isinstance(end, ev.WorkflowTaskCompleted) and made is not None:   # its commands are in its own append
        return [Problem(where, f"the history ends at event {end.event_id} (WorkflowTaskCompleted) without the "
                               f"command its code makes there ({made.describe()}): it was cut short, and nothing "
                               "would wake the workflow", end.event_id)]
    return []
