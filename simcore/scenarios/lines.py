"""Outcome lines the scenes share: the plain-text facts a notebook prints and nbval checks."""
from __future__ import annotations

from .. import orders


def statement_line(run, upto=None) -> str:
    lines = run.world.statement(upto)
    charges = sum(e.cents > 0 for e in lines)
    refunds = sum(e.cents < 0 for e in lines)
    text = f"statement: ${run.world.statement_cents(upto) / 100:,.2f} ({charges} charge{'s' * (charges != 1)}"
    return text + (f", {refunds} refund{'s' * (refunds != 1)})" if refunds else ")")


def effects_line(run, steps=orders.STEPS) -> str:
    done = run.world.effects()
    return "effects: " + ", ".join(f"{step} x{done.get(step, 0)}" for step in steps)


def ram_line(run, names=("charged", "step")) -> str:
    ram = run.frames[-1].ram if run.frames else None
    if not ram:
        return "RAM: (blank: the process that held it is gone)"
    return "RAM: " + ", ".join(f"{k}={v}" for k, v in ram.items() if k in names)


def held_line(run) -> str:
    held = run.world.holds["mug"]
    return f"warehouse: {held} unit{'s' * (held != 1)} held"
