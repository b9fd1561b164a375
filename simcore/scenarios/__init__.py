"""The course's scenes as models: their controls, their simulation, and the outcome lines they teach.

The views (widgets, matplotlib) live in `scenes/`; these modules know nothing of them, so the
command line, the tests and the benchmarks run every scene without a display.

Each scene module defines `NUMBER`, `TITLE`, `CONTROLS`, `simulate(seed=0, **controls) -> Run`
and `outcome_lines(run) -> list[str]`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

MODULES = {int(p.stem[1:]): p.stem for p in sorted(Path(__file__).parent.glob("s[0-9][0-9].py"))}


@dataclass(frozen=True)
class Control:
    name: str
    choices: tuple
    default: object
    help: str

    def parse(self, text: str):
        """A value from the command line or a widget; refuses anything not among the choices."""
        for choice in self.choices:
            if str(choice) == str(text):
                return choice
        raise ControlError(f"{self.name}={text!r} is not allowed; choose one of: "
                           f"{', '.join(map(str, self.choices))}")


class ControlError(ValueError):
    """A scene name, control or value that does not exist; the message lists what does."""


def load(scene):
    """The scene module for `scene`: 1, "1", "01" or "s01"."""
    text = str(scene).lower().removeprefix("s").lstrip("0") or "0"
    if not text.isdecimal() or int(text) not in MODULES:   # (isdigit() passes "²", which int() refuses)
        raise ControlError(f"no scene {scene!r}; scenes: {', '.join(f'{n:02d}' for n in MODULES)}")
    return importlib.import_module(f"{__name__}.{MODULES[int(text)]}")


def resolve(module, settings: dict) -> dict:
    """All of a scene's controls, from its defaults and `settings` (name -> text or value)."""
    by_name = {c.name: c for c in module.CONTROLS}
    unknown = sorted(set(settings) - set(by_name))
    if unknown:
        raise ControlError(f"scene {module.NUMBER:02d} has no control {unknown[0]!r}; its controls: "
                           f"{', '.join(by_name)}")
    return {c.name: c.parse(settings[c.name]) if c.name in settings else c.default for c in module.CONTROLS}


def part_of(module, part: str):
    """A scene in parts (`module.PARTS`: part -> its controls), cut to one part: a model of its own, with
    that part's controls, for a view, a benchmark or a test to drive (scene 13)."""
    from types import SimpleNamespace
    if part not in module.PARTS:
        raise ControlError(f"scene {module.NUMBER:02d} has no part {part!r}; its parts: {', '.join(module.PARTS)}")
    return SimpleNamespace(NUMBER=module.NUMBER, TITLE=f"{module.TITLE} · {part}", CONTROLS=module.PARTS[part],
                           simulate=lambda seed=0, **c: module.simulate(part=part, seed=seed, **c),
                           outcome_lines=module.outcome_lines, so_far=getattr(module, "so_far", None))


def all_scenes():
    return [load(n) for n in MODULES]
