"""The trace: frames for the views, and none for a run nobody watches."""
from simcore import orders
from simcore.engine import Engine
from simcore.faults import FaultPlan, KillWorker
from simcore.sim import Sim
from simcore.trace import Unwatched


def test_an_unwatched_run_keeps_no_frames_and_runs_exactly_as_a_watched_one():
    def run(trace):
        sim = Sim(seed=3)
        if trace:
            sim.trace = trace
        engine = Engine(sim, [orders.fulfill_order], orders.ACTIVITIES)
        engine.start(orders.fulfill_order, "order-1001", orders.ORDER_ID, orders.CENTS)
        sim.run()
        return sim, engine
    watched, _ = run(None)
    unwatched, engine = run(Unwatched())
    assert watched.trace.frames and unwatched.trace.frames == []
    assert [vars(e) for e in unwatched.history.read("order-1001")] == [vars(e) for e in watched.history.read("order-1001")]
    assert unwatched.world.log == watched.world.log and "order-1001" in engine.closed


def test_a_frame_carries_the_kind_of_what_happened_and_only_its_own():
    sim = Sim(seed=0, faults=FaultPlan(workers=(KillWorker("worker-1", at=1.0),)))   # mid-way through a step
    engine = Engine(sim, [orders.fulfill_order], orders.ACTIVITIES, workers=1)
    engine.start(orders.fulfill_order, "order-1001", orders.ORDER_ID, orders.CENTS)
    sim.run()
    frames = sim.trace.frames
    crash = next(i for i, f in enumerate(frames) if f.skull)
    assert frames[crash].kind == "crash" and frames[crash + 1].kind != "crash"   # a kind is not carried over
    kinds = {f.kind for f in frames}
    assert {"crash", "lease", "start"} <= kinds and "" in kinds   # the engine's incidents, and routine frames
    assert all(f.kind == "" for f in frames if f.caption.endswith("(committed)"))
