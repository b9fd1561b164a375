from simcore.world import World


def test_every_effect_is_logged_and_counted():
    w = World()
    w.charge("1001", 4200)
    w.charge("1001", 4200)
    w.refund("1001", 4200)
    w.reserve("1001")
    assert w.statement_cents() == 4200 and len(w.statement()) == 3
    assert w.effects()["ChargeCard"] == 2 and w.holds["mug"] == 1 and w.stock["mug"] == 9


def test_a_repeated_idempotency_key_returns_the_first_result_and_charges_nothing():
    w = World()
    first = w.charge("1001", 4200, key="order-1001/ChargeCard")
    again = w.charge("1001", 4200, key="order-1001/ChargeCard")
    assert first == again and w.statement_cents() == 4200 and len(w.log) == 1


def test_the_key_is_remembered_even_when_the_caller_dies_right_after():
    class Died(BaseException):
        pass

    def die(kind):
        raise Died()
    w = World(on_effect=die)
    try:
        w.charge("1001", 4200, key="k")
    except Died:
        pass
    w.on_effect = lambda kind: None
    w.charge("1001", 4200, key="k")
    assert w.statement_cents() == 4200


def test_a_downstream_over_capacity_fails_and_recovers_when_the_load_drops():
    import pytest

    from simcore.world import Downstream, ServiceUnavailable
    now = [0.0]
    w = World(clock=lambda: now[0])
    w.downstream["ReserveInventory"] = d = Downstream(lambda: now[0], capacity=2, window=1.0, sick_until=5)
    with pytest.raises(ServiceUnavailable, match="down"):
        w.reserve("1")
    now[0] = 6.0
    w.reserve("1")
    w.reserve("2")
    with pytest.raises(ServiceUnavailable, match="3 requests in the last 1s"):
        w.reserve("3")
    assert d.recovered_at == 6.0 and d.load(6) == [1, 0, 0, 0, 0, 0, 3] and w.effects()["ReserveInventory"] == 2


def test_a_key_with_other_parameters_is_refused_as_stripe_does():
    import pytest

    from simcore.world import IdempotencyKeyMismatch
    w = World()
    w.charge("1001", 4200, key="k")
    with pytest.raises(IdempotencyKeyMismatch, match="first used for ChargeCard 1001 42.00, now for ChargeCard "
                                                     "1001 43.00: one key, one request"):
        w.charge("1001", 4300, key="k")
    assert w.statement_cents() == 4200 and IdempotencyKeyMismatch.non_retryable


def test_a_repeat_while_the_first_is_still_processed_gets_409_then_the_first_result():
    import pytest

    from simcore.world import IdempotencyKeyInUse
    now = [0.0]
    w = World(clock=lambda: now[0], processing=0.5)
    first = w.charge("1001", 4200, key="k")
    with pytest.raises(IdempotencyKeyInUse, match="still being processed; retry later"):
        w.charge("1001", 4200, key="k")
    now[0] = 0.5
    assert w.charge("1001", 4200, key="k") == first and w.statement_cents() == 4200


def test_the_world_takes_new_kinds_of_effects():
    w = World()
    ref = w.effect("BookHotel", "trip-7", key="t/1", note="2 nights")
    assert ref == "book_1 2 nights" and w.effects() == {"BookHotel": 1} and w.statement_cents() == 0
    assert w.effect("BookHotel", "trip-7", key="t/1", note="2 nights") == ref and len(w.log) == 1
