from scenes import s01
from scenes.kit.diagram import SHOWN
from simcore.scenarios import s01 as model


def test_controls_re_run_the_engine_and_the_outcome_follows():
    view = s01.Scene()
    assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "statement: $42.00 (1 charge)" in view.outcome.value
    view.set_controls(strategy="cron", crash_after="ChargeCard")
    assert "statement: $84.00 (2 charges)" in view.outcome.value
    assert view.controls["strategy"].value == "cron" and view.scrub.max == len(view.run.frames) - 1
    view.controls["strategy"].value = "durable"   # as a click would
    assert "statement: $42.00 (1 charge)" in view.outcome.value and view.run.outcome == "completed"


def test_every_frame_draws_and_the_skull_wipes_the_ram():
    view = s01.Scene(strategy="plain", crash_after="ChargeCard")
    skulls = [i for i, f in enumerate(view.run.frames) if f.skull]
    assert len(skulls) == 1 and view.run.frames[skulls[0]].ram is None
    assert view.run.frames[skulls[0] - 1].ram["charged"] == "True"
    for i in range(len(view.run.frames)):
        view.goto(i)
        assert view.frame_text.value.startswith(f"frame {i + 1} / ")


def test_code_panel_lights_the_running_line_and_marks_replay():
    view = s01.Scene(strategy="durable", crash_after="ReserveInventory")
    replayed = next(i for i, f in enumerate(view.run.frames) if f.replaying and f.line)
    view.goto(replayed)
    assert "ds-lit ds-replay" in view.code.value and "yield ctx.activity(charge_card" in view.code.value
    view.set_controls(strategy="cron")
    assert "cron retry" in view.code.value


def test_the_staff_engineer_answers():
    view = s01.Scene()
    chat = view.chat
    buttons, log = chat.buttons, chat.answers
    assert len(buttons) == len(s01.QUESTIONS) >= 3
    buttons[0].click()
    assert "ds-answer" in log.value and "lived in RAM" in log.value


def test_outcome_lines_for_the_curriculum():
    lines = model.outcome_lines(model.simulate(strategy="plain"))
    assert lines[0] == "statement: $42.00 (1 charge)" and "RAM: charged=True, step=4" in lines
    lines = model.outcome_lines(model.simulate(strategy="plain", crash_after="ChargeCard"))
    assert "RAM: (blank: the process that held it is gone)" in lines
    assert "effects: ChargeCard x1, ReserveInventory x0, ShipPackage x0, SendConfirmationEmail x0" in lines


def test_the_diagram_png_is_a_valid_image_of_the_figure():
    import io

    import numpy as np
    from PIL import Image
    view = s01.Scene(strategy="cron", crash_after="ChargeCard")
    view.goto(3)
    img = Image.open(io.BytesIO(view.image.value))
    img.load()
    assert img.size == (2 * SHOWN, round(2 * SHOWN * 4.4 / 10)) and img.mode == "RGBA"   # twice its size on screen
    assert (np.asarray(img) == np.asarray(view.diagram.figure.canvas.buffer_rgba())).all()


def test_the_chat_sits_at_the_foot_of_the_scene_and_answers_by_its_words():
    view = s01.Scene()
    assert view.widget.children[-1] is view.chat
    assert "at least once" in view.chat.ask("at-least-once")


def test_the_plain_panel_is_a_plain_function_and_the_code_that_runs():
    import html
    import inspect
    import re

    from scenes.kit.code import source_of
    from simcore import strategies
    fn = model.fulfill_order
    assert inspect.isfunction(fn) and not inspect.isgeneratorfunction(fn)
    source = source_of(fn)
    assert source.startswith("def fulfill_order(order_id, cents):") and "yield" not in source and "ctx" not in source
    cron_job = source_of(strategies.cron_job)
    assert len(cron_job.splitlines()) <= 6 and "sim." not in cron_job and "env" not in cron_job
    view = s01.Scene(strategy="cron", crash_after="ChargeCard")
    shown = html.unescape(view.code.value)
    assert "charge_card(order_id, cents)" in shown and "for order in shop.orders_not_marked_done():" in shown
    assert "class Shop" in html.unescape(view.engine_code.value)   # the plumbing, folded away
    lines = source.splitlines()
    called = [(i, f) for i, f in enumerate(view.run.frames) if f.caption.endswith(": called")]
    assert len(called) == 2 + 4   # ChargeCard, ReserveInventory (then the crash), and four again from line one
    for i, frame in called:   # each call's frame lights the line that made it, in the function that ran
        step = re.sub(r"(?<!^)(?=[A-Z])", "_", frame.step).lower()
        assert lines[frame.line - 1].strip().startswith(f"{step}(order_id")
        view.goto(i)
        lit = re.findall(r'ds-lit[^"]*"><span class="ds-ln">\s*(\d+)</span>', view.code.value)
        assert lit == [str(frame.line)]
    skull = next(i for i, f in enumerate(view.run.frames) if f.skull)
    view.goto(skull)
    assert "ds-lit ds-crash" in view.code.value and "reserve_inventory(order_id)" in view.now.value
    assert view.run.frames[-1].caption == "order marked done: order 1001 fulfilled"
    assert view.run.frames[-2].ram == {"order_id": "'1001'", "cents": "4200", "charged": "True", "step": "4"}
