"""A DAG: tasks as a networkx DiGraph, the states a task instance moves through, and trigger rules.

DAG-first engines (Airflow, Dagster, Argo) declare the graph up front and the scheduler walks it:
a task runs when its trigger rule says its upstream tasks allow it. The states, their colours and
the rules are Airflow's (`airflow/utils/state.py`, `airflow/ti_deps/deps/trigger_rule_dep.py` in
apache-airflow-core 3.3.2); tests/test_dag_airflow.py checks the propagation against `dag.test()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import networkx as nx

from .timetables import TimeRestriction, timetable

# Airflow's TaskInstanceState, and the colours its UI draws them in (State.state_color).
STATE_COLOURS = {None: "lightblue", "scheduled": "tan", "queued": "gray", "running": "lime", "success": "green",
                 "failed": "red", "up_for_retry": "gold", "up_for_reschedule": "turquoise",
                 "upstream_failed": "orange", "skipped": "hotpink", "restarting": "violet", "removed": "lightgrey",
                 "deferred": "mediumpurple"}
FINISHED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
TRIGGER_RULES = ("all_success", "all_done", "one_failed", "none_failed")


@dataclass(frozen=True)
class Task:
    task_id: str
    fn: Callable            # fn(context) -> a value for XCom; raising fails the try
    seconds: float          # how long one try takes, in simulated seconds
    retries: int = 0        # Airflow's default_task_retries is 0
    retry_delay: timedelta = timedelta(seconds=300)   # Airflow's default: 300 s, no exponential backoff
    trigger_rule: str = "all_success"
    poke_interval: float | None = None   # a sensor (reschedule mode): fn says whether to go on; if not,
    timeout: float = 7 * 24 * 3600.0     # it pokes again this many seconds later, until `timeout`
    #                                      ([sensors] default_timeout: 7 days) from its first poke

    def __post_init__(self):
        if self.trigger_rule not in TRIGGER_RULES:
            raise ValueError(f"{self.task_id}: trigger_rule {self.trigger_rule!r}; choose one of "
                             f"{', '.join(TRIGGER_RULES)}")


class Skip(Exception):
    """Raised by a task's code: the task instance is marked skipped (Airflow's AirflowSkipException)."""


@dataclass
class DAG:
    """`DAG("nightly_revenue", "@daily", start_date, ...)`, then `dag.add(task, upstream=[...])`.
    Airflow 3's defaults: a trigger timetable, catchup off, 16 active runs at most."""
    dag_id: str
    schedule: object                  # a cron string or a timedelta
    start_date: datetime
    timetable_kind: str = "trigger"
    catchup: bool = False
    max_active_runs: int = 16
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)

    def __post_init__(self):
        self.timetable = timetable(self.schedule, self.timetable_kind)
        self.restriction = TimeRestriction(self.start_date, None, self.catchup)

    def add(self, task: Task, upstream=()) -> Task:
        self.graph.add_node(task.task_id, task=task)
        self._order = None
        for up in upstream:
            if up not in self.graph:
                raise ValueError(f"{task.task_id}: upstream {up!r} is not in the DAG (add it first)")
            self.graph.add_edge(up, task.task_id)
        return task

    def task(self, task_id: str) -> Task:
        return self.graph.nodes[task_id]["task"]

    @property
    def task_ids(self) -> list[str]:
        """In a fixed topological order (ties by insertion), the order the grid view lists them."""
        if getattr(self, "_order", None) is None:   # computed once the graph stops changing
            order = {t: i for i, t in enumerate(self.graph.nodes)}
            self._order = list(nx.lexicographical_topological_sort(self.graph, key=order.get))
        return self._order

    def upstream(self, task_id: str) -> list[str]:
        return list(self.graph.predecessors(task_id))

    @property
    def leaves(self) -> list[str]:
        return [t for t in self.task_ids if self.graph.out_degree(t) == 0]


def decide(rule: str, upstream_states: list) -> str:
    """What a waiting task instance (state None) does, given its upstream tasks' states: "run",
    "wait", or the state it is set to without running (upstream_failed, skipped). As Airflow's
    TriggerRuleDep: an all_success task is marked upstream_failed as soon as one upstream failed,
    without waiting for the others; a skipped upstream makes it skipped."""
    n = len(upstream_states)
    count = {s: upstream_states.count(s) for s in FINISHED}
    done = sum(count.values())
    failed = count["failed"] + count["upstream_failed"]
    if rule == "all_success":
        return "upstream_failed" if failed else "skipped" if count["skipped"] else \
            "run" if count["success"] == n else "wait"
    if rule == "all_done":
        return "run" if done == n else "wait"
    if rule == "one_failed":
        return "run" if failed else "skipped" if done == n else "wait"
    if rule == "none_failed":
        return "upstream_failed" if failed else "run" if count["success"] + count["skipped"] == n else "wait"
    raise ValueError(f"trigger rule {rule!r}")


def run_state(dag: DAG, states: dict) -> str:
    """A DAG run's state from its task instances: running until every one has finished; then
    failed if any leaf failed or is upstream_failed, else success (Airflow's dag-run.rst)."""
    if any(states.get(t) not in FINISHED for t in dag.task_ids):
        return "running"
    return "failed" if any(states[t] in ("failed", "upstream_failed") for t in dag.leaves) else "success"
