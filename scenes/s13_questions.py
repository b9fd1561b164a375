"""Scene 13's chat: the staff engineer's answers (each at most 120 words; tests/test_texts.py checks)."""
from simcore.scenarios.canvas import POKE

QUESTIONS = {
    "When is a DAG the better choice?": (
        "When the work is a fixed graph of batch steps over slices of time: a nightly load, a report per day, "
        "a backfill after an outage. Each run has its data interval, the grid shows every interval's state, "
        "and catchup and backfill come built in. Make each task idempotent (overwrite the interval's "
        "partition), since a retry runs it from its first line.\n\n"
        f"It goes awkward when one run must wait and listen: the canvas's DAG pokes every {POKE / 3600:g} hours for 30 days "
        "to notice a cancel, and with Airflow's default sensor timeout (7 days) the run fails before the "
        "review is due. A workflow waits on a timer and a signal, and is woken by either."),
    "What does a real deployment look like past one machine?": (
        "Temporal's server is four services: frontend, history (sharded), matching (task queues) and an "
        "internal worker, over a database: Cassandra, MySQL, PostgreSQL or SQLite, plus a visibility store. "
        "The shard count is fixed when the cluster is created (the Helm chart's default is 512; most dev "
        "configs use 4, the SQLite ones 1). Your workers are your own processes, polling task queues.\n\n"
        "DBOS is different: a library in your process that keeps its state in a database (SQLite by default, "
        "Postgres in production); no orchestration service. To run this course's workflows on a real Temporal server, see notebook 15 and "
        "`python -m bridge.live`."),
    "How do these engines test themselves?": (
        "By injecting faults on purpose; the strongest form replays any failure exactly. FoundationDB runs its "
        "whole cluster as a deterministic simulation in one thread: network, disks and clocks are simulated, "
        "faults come from a seeded random source (each BUGGIFY site is switched on for a run with probability "
        "0.25, then fires with probability 0.25 each time it is reached), and a failing seed replays exactly.\n\n"
        "Temporal's server instead injects seeded faults into its persistence layer in functional tests; its "
        "SDKs offer replay tests against recorded histories (scene 11) and a time-skipping test server. This "
        "scoreboard is the small version of FoundationDB's idea: each order is a seed, and any row replays "
        "frame for frame."),
    "Why can two hosts think they own a shard?": (
        "Because membership is learned, not known. A host that freezes (a GC pause, a stopped VM) stops "
        "answering; after the failure-detection timeout the ring gives its shards to others. When it wakes "
        "it still believes it owns them, until it hears the new ring.\n\n"
        "So Temporal does not rely on membership for safety. A host that takes a shard bumps the shard's "
        "range id with a conditional write, and every write to that shard's workflows checks the range id "
        "the writer holds. The zombie's late writes fail with ShardOwnershipLost and it lets the shard go: "
        "owned twice for a moment, never written by two owners."),
    "What should I read next?": (
        "Temporal's docs on Event History, Workflow Execution and versioning (patching), and the server's "
        "architecture/history-service.md, which uses a thirty-day sleep as its worked example. Airflow's "
        "dag-run and timetable pages for data intervals. AWS's Step Functions developer guide on Standard "
        "workflows, Wait states and callback task tokens. FoundationDB's testing page and TigerBeetle's VOPR "
        "docs for deterministic simulation. Then write a workflow of your own in notebook 14, and run it on "
        "a real server with notebook 15."),
}
