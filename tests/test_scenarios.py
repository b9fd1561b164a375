"""Properties every scene model keeps, whatever its controls: the same controls and seed give the same
run frame for frame; what the scene prints adds up with what the world logged; and the durable
engine, crashed anywhere after a record, ends with the crash-free statement."""
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import scenarios

SCENES = scenarios.all_scenes()


@st.composite
def configurations(draw):
    m = draw(st.sampled_from(SCENES))
    return m, {c.name: draw(st.sampled_from(c.choices)) for c in m.CONTROLS}


@settings(max_examples=60, deadline=None)
@given(configurations(), st.integers(0, 3))
def test_every_scene_is_deterministic_and_adds_up(config, seed):
    m, controls = config
    a, b = m.simulate(seed=seed, **controls), m.simulate(seed=seed, **controls)
    assert a.frames == b.frames and a.world.log == b.world.log
    summary = a.summary()
    json.dumps(summary)   # plain data, as `simcore run --json` prints it
    assert summary["statement_cents"] == sum(e.cents for e in a.world.log)
    assert summary["charges"] == sum(e.kind == "ChargeCard" for e in a.world.log)
    lines = m.outcome_lines(a)
    assert lines and all(isinstance(line, str) for line in lines)
    for f in a.frames:
        assert 0 <= f.effects <= len(a.world.log)
    assert [f.t for f in a.frames] == sorted(f.t for f in a.frames)


DURABLE = [(m, c) for m in SCENES for c in m.CONTROLS if c.name == "crash_after"
           and "durable" in dict((x.name, x.choices) for x in m.CONTROLS).get("strategy", ())]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DURABLE), st.data())
def test_durable_after_a_record_always_ends_with_one_charge(scene, data):
    m, crash = scene
    controls = {"strategy": "durable", "crash_after": data.draw(st.sampled_from(crash.choices))}
    if "crash_when" in {c.name for c in m.CONTROLS}:
        controls["crash_when"] = "after_record"
    if "code" in {c.name for c in m.CONTROLS}:
        controls["code"] = "ctx_now"   # scene 03's deterministic code
    run = m.simulate(**controls)
    assert run.outcome == "completed" and run.world.statement_cents() == 4200, controls
