"""The benchmarks run, on tiny sizes, and write every section's figures. No timing is asserted: these
machines are shared and noisy, and a figure belongs in benchmarks/README.md, not in a red test."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

KEYS = {
    "meta": {"date", "command", "quick", "python", "sqlite", "cpus", "machine", "seconds"},
    "append": {"appends_per_round", "rounds", "journal_mode", "synchronous", "raw_journal_mode", "raw_synchronous",
               "engine_per_s", "raw_per_s", "ratio", "engine_per_s_sync_off", "raw_per_s_sync_off", "engine_extra_us",
               "target", "met"},
    "order": {"workflows_per_round", "rounds", "steps", "journal_mode", "synchronous", "engine_ms",
              "engine_ms_per_step", "engine_commits", "engine_statements", "floor_ms", "floor_ms_per_step",
              "floor_ratio", "running_ms", "running_ms_per_step", "dbos_ms", "dbos_ms_per_step", "dbos_speedup", "dbos_commits",
              "dbos_note", "commit_ms", "dbos_python_ms", "breakeven_commit_ms", "targets", "met"},
    "replay": {"runs", "growth", "target", "met", "replay_alone_met"},
    "sweep": {"orders", "strategies", "total_s", "target", "met"},
    "interaction": {"scenes", "targets"},
    "chaos": {"orders", "rows", "plans_s", "every_s", "speedup", "runs", "target", "met", "board"},
}
REPLAY_RUN = {"events", "open_s", "read_s", "replay_s", "total_s", "events_per_s", "us_per_event",
              "replay_us_per_event"}
STRATEGY = {"seconds", "orders_per_s", "completed", "lost", "double_charges", "crashes", "outcomes"}
SCENE = {"build_ms", "combos", "change_ms", "simulate_ms", "frames", "frame_ms", "met"}


def test_quick_benchmark_writes_every_section(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())

    for section, keys in KEYS.items():
        assert section in results, f"no {section!r} section"
        assert keys <= set(results[section]), f"{section}: missing {sorted(keys - set(results[section]))}"
    assert results["meta"]["quick"] is True
    assert results["append"]["journal_mode"] == "WAL" and results["append"]["synchronous"] == "FULL"
    assert results["order"]["engine_ms"] > 0 and results["order"]["floor_ms"] > 0
    assert results["order"]["dbos_ms"] is not None or results["order"]["dbos_note"].startswith("skipped")
    assert results["replay"]["runs"] and all(REPLAY_RUN <= set(r) for r in results["replay"]["runs"])
    assert set(results["sweep"]["strategies"]) == {"plain", "cron", "checkpoint", "durable"}
    for name, score in results["sweep"]["strategies"].items():
        assert STRATEGY <= set(score), name
    from simcore.scenarios import MODULES
    assert set(results["interaction"]["scenes"]) == set(MODULES.values())
    for name, scene in results["interaction"]["scenes"].items():
        assert "skipped" in scene or SCENE <= set(scene), name

    for line in ("append", "order", "replay", "sweep", "interaction"):   # the table names every section
        assert f"\n{line}" in proc.stdout, f"the printed table has no {line!r} row"
