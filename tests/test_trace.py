"""The trace: frames for the views, and none for a run nobody watches."""
from simcore import orders
from simcore.engine import Engine
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
