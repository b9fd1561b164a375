"""The Amazon States Language, the subset `simcore.statemachine` runs: definitions as data, their
validation, their data paths and retry rules, and ORDER #1001 as one (`ORDER_1001`).

Task, Wait, Choice, Succeed, Fail; Next/End, Retry, Catch, Parameters, ResultPath, InputPath/OutputPath.
`validate()` refuses a bad definition, naming the state and the field. Simplified as the interpreter's
docstring says (one resource, `arn:aws:states:::lambda:invoke`; Wait takes Seconds; no Pass, Parallel,
Map, ResultSelector).
"""
from __future__ import annotations

import copy
import inspect
import json
import re

from . import orders

DAY, INVOKE, INTERPRETER = 86400.0, "arn:aws:states:::lambda:invoke", "interpreter"
ARN, RES = "arn:aws:states:us-east-1:123456789012:execution:Order:", {"resourceType": "lambda", "resource": "invoke"}


FUNCTIONS = {a.name: a for a in (orders.charge_card_keyed, orders.reserve_inventory_keyed, orders.ship_package_keyed,
                                 orders.send_review_request_keyed, orders.release_inventory_keyed, orders.refund_card_keyed)}
RETRY = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}


def _args(fn):
    return list(inspect.signature(FUNCTIONS[fn].fn).parameters)[1:]


def _task(fn, result_path, **flow):
    return {"Type": "Task", "Resource": INVOKE, "Parameters": {"FunctionName": fn, "Payload": {
        f"{a}.$": f"$.{a}" for a in _args(fn)}}, "ResultPath": result_path, "Retry": [RETRY], **flow}


ORDER_1001 = {
    "Comment": "ORDER #1001. A ship that fails for good is compensated in reverse (release, refund), then fails.",
    "StartAt": "ChargeCard",
    "States": {
        "ChargeCard": _task("ChargeCard", "$.charge", Next="ReserveInventory"),
        "ReserveInventory": _task("ReserveInventory", "$.hold", Next="ShipPackage"),
        "ShipPackage": _task("ShipPackage", "$.tracking", Next="WantsReview", Catch=[
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ReleaseInventory"}]),
        "WantsReview": {"Type": "Choice", "Default": "Done",
                        "Choices": [{"Variable": "$.review", "BooleanEquals": True, "Next": "WaitThirtyDays"}]},
        "WaitThirtyDays": {"Type": "Wait", "Seconds": 30 * 86400, "Next": "SendReviewRequest"},
        "SendReviewRequest": _task("SendReviewRequest", "$.review_email", End=True),
        "Done": {"Type": "Succeed"},
        "ReleaseInventory": _task("ReleaseInventory", None, Next="RefundCard"),
        "RefundCard": _task("RefundCard", None, Next="OrderFailed"),
        "OrderFailed": {"Type": "Fail", "Error": "OrderFailed",
                        "Cause": "the package could not be shipped; the mug was released and the card refunded"},
    },
}
INPUT = {"order_id": orders.ORDER_ID, "cents": orders.CENTS, "review": True}

# -- validation ----------------------------------------------------------------------------------
class DefinitionError(ValueError):
    """A definition this interpreter refuses: names the state and the field."""


CMP = {"Equals": lambda a, b: a == b, "LessThan": lambda a, b: a < b, "GreaterThan": lambda a, b: a > b,
       "LessThanEquals": lambda a, b: a <= b, "GreaterThanEquals": lambda a, b: a >= b}
OPS = {**{f"{k}{c}": t for k, t in (("String", str), ("Numeric", (int, float))) for c in CMP}, "BooleanEquals": bool}
BASE, FLOW, IO = {"Type", "Comment"}, {"Next", "End"}, {"InputPath", "OutputPath"}
FIELDS = {"Task": BASE | FLOW | IO | {"Resource", "Parameters", "ResultPath", "Retry", "Catch"},
          "Wait": BASE | FLOW | IO | {"Seconds"}, "Choice": BASE | IO | {"Choices", "Default"},
          "Succeed": BASE | IO, "Fail": BASE | {"Error", "Cause"}}
RETRIER = {"IntervalSeconds": (1, "a whole number >= 1"), "MaxAttempts": (0, "a whole number >= 0"),
           "BackoffRate": (1, "a number >= 1")}
PATH, CTX = re.compile(r"^\$(\.[A-Za-z_][\w-]*)*$"), re.compile(r"^\$\$\.(Execution\.(Id|Name|Input)|State\.Name)$")


def validate(definition) -> dict:
    """The definition (JSON text or a dict) as a dict, or DefinitionError naming the state and field."""
    d = json.loads(definition) if isinstance(definition, str) else definition
    states = d.get("States") if isinstance(d, dict) else None
    if not isinstance(states, dict) or not states:
        raise DefinitionError("the definition needs States: an object of named states")
    if d.get("StartAt") not in states:
        raise DefinitionError(f"StartAt: no state named {d.get('StartAt')!r} (states: {', '.join(states)})")
    for name, st in states.items():
        def need(ok, fld, why, name=name):
            if not ok:
                raise DefinitionError(f"state {name!r}, field {fld}: {why}")

        def goto(fld, v):
            need(v in states, fld, f"no state named {v!r} (states: {', '.join(states)})")

        def path(fld, v, ctx=False):
            need(v is None or isinstance(v, str) and bool(PATH.match(v) or ctx and CTX.match(v)), fld,
                 f"{v!r} is not a path this interpreter reads ($ or $.a.b)")
        typ = st.get("Type") if isinstance(st, dict) else None
        need(typ in FIELDS, "Type", f"{typ!r} is not in this interpreter's subset ({', '.join(FIELDS)})")
        for f in sorted(set(st) - FIELDS[typ]):
            need(False, f, f"not a field this interpreter reads in a {typ} state ({', '.join(sorted(FIELDS[typ]))})")
        for f in sorted((IO | {"ResultPath"}) & set(st)):
            path(f, st[f])
        if "Next" in FIELDS[typ]:
            need("Next" not in st or "End" not in st, "Next/End", "only one of Next or End")
            goto("Next", st["Next"]) if "Next" in st else need(st.get("End") is True, "Next/End",
                                                                "needs Next (the state to go to) or End: true")
        if typ == "Wait":
            need(type(st.get("Seconds")) is int and st["Seconds"] >= 0, "Seconds", "a Wait needs Seconds, a whole "
                 "number >= 0 (Timestamp and SecondsPath are not in this subset)")
        if typ == "Choice":
            need(isinstance(st.get("Choices"), list) and st["Choices"], "Choices", "a Choice needs a non-empty list")
            for i, rule in enumerate(st["Choices"]):
                _check_rule(rule, lambda ok, why, i=i: need(ok, f"Choices[{i}]", why), top=True)
                goto(f"Choices[{i}].Next", rule.get("Next"))
            if "Default" in st:
                goto("Default", st["Default"])
        if typ != "Task":
            continue
        need(st.get("Resource") == INVOKE, "Resource", f"a Task needs Resource {INVOKE!r} (the one resource this "
             f"interpreter runs), got {st.get('Resource')!r}")
        p = st.get("Parameters") if isinstance(st.get("Parameters"), dict) else {}
        need(p.get("FunctionName") in FUNCTIONS, "Parameters.FunctionName",
             f"{p.get('FunctionName')!r} is not one of {', '.join(FUNCTIONS)}")
        payload, args = p.get("Payload") if isinstance(p.get("Payload"), dict) else {}, _args(p["FunctionName"])
        need(sorted(k.removesuffix(".$") for k in payload) == sorted(args), "Parameters.Payload",
             f"{p['FunctionName']} takes {', '.join(args)}; the Payload gives {sorted(payload)}")
        for k, v in payload.items():
            if k.endswith(".$"):
                path(f"Parameters.Payload.{k}", v if isinstance(v, str) else repr(v), ctx=True)
        for kind, allowed in (("Retry", {"ErrorEquals", *RETRIER}), ("Catch", {"ErrorEquals", "Next", "ResultPath"})):
            for i, r in enumerate(st.get(kind, [])):
                fld, eq = f"{kind}[{i}]", r.get("ErrorEquals") if isinstance(r, dict) else None
                need(isinstance(eq, list) and eq and all(isinstance(e, str) for e in eq), fld,
                     "needs ErrorEquals: a non-empty list of error names")
                need("States.ALL" not in eq or len(eq) == 1 and i == len(st[kind]) - 1, fld,
                     "States.ALL must be alone in ErrorEquals, in the last entry of the list")
                for f in sorted(set(r) - allowed):
                    need(False, f"{fld}.{f}", f"not a field this interpreter reads ({', '.join(sorted(allowed))})")
                for f, (low, rule) in RETRIER.items():
                    v = r.get(f, low)
                    need(isinstance(v, int if f != "BackoffRate" else (int, float)) and not isinstance(v, bool)
                         and v >= low, f"{fld}.{f}", f"must be {rule}, got {v!r}")
                if kind == "Catch":
                    goto(f"{fld}.Next", r.get("Next"))
                    path(f"{fld}.ResultPath", r.get("ResultPath"))
    return d


def _check_rule(rule, need, top=False):
    need(isinstance(rule, dict), f"a Choice rule is an object, got {rule!r}")
    need(top or "Next" not in rule, "Next is allowed only in a top-level Choice rule")
    nested = rule.get("And", rule.get("Or"))
    if nested is not None or "Not" in rule:
        need(isinstance(nested, list) and nested or "Not" in rule, "And/Or need a non-empty list of rules")
        return [_check_rule(r, need) for r in (nested or [rule["Not"]])]
    ops = [k for k in rule if k in OPS]
    need(isinstance(rule.get("Variable"), str) and PATH.match(rule["Variable"]) and len(ops) == 1,
         f"a rule needs Variable (a path) and one comparison of {', '.join(OPS)}")
    v = rule[ops[0]]
    need(isinstance(v, OPS[ops[0]]) and (OPS[ops[0]] is bool) == isinstance(v, bool),
         f"{ops[0]} compares with a value of its type, got {v!r}")


def _holds(r, data):
    if "And" in r or "Or" in r:
        return (all if "And" in r else any)(_holds(x, data) for x in r.get("And", r.get("Or")))
    if "Not" in r:
        return not _holds(r["Not"], data)
    op = next(k for k in r if k in OPS)
    v = _get(data, r["Variable"])
    same = isinstance(v, OPS[op]) and (OPS[op] is bool) == isinstance(v, bool)   # no number matches a string
    return same and CMP[re.sub("^(String|Numeric|Boolean)", "", op)](v, r[op])

# -- data: paths, Parameters, ResultPath ----------------------------------------------------------
class PathError(Exception):
    """A path that selects nothing: the execution fails with States.Runtime."""


def _get(root, p):
    if p is None:
        return {}
    for k in p.lstrip("$").split(".")[1:]:
        if not isinstance(root, dict) or k not in root:
            raise PathError(f"path {p!r} selects nothing")
        root = root[k]
    return root


def _resolve(params, data, ctx):
    if not isinstance(params, dict):
        return params
    return {k.removesuffix(".$"): _get(ctx if v.startswith("$$") else data, v) if k.endswith(".$") else
            _resolve(v, data, ctx) for k, v in params.items()}


def _put(data, p, value):
    if p is None or p == "$":
        return data if p is None else value
    out, (*parents, last) = (copy.deepcopy(data) if isinstance(data, dict) else {}), p.split(".")[1:]
    cur = out
    for k in parents:
        cur = cur.setdefault(k, {})
    cur[last] = value
    return out


def _matches(equals, error):
    return "States.ALL" in equals or error in equals or ("States.TaskFailed" in equals and error != "States.Timeout")


def retry_wait(st, errors):
    """Seconds before the next attempt after `errors` (this visit's, in order), or None: no retry left.
    As the docs' worked example: the first retrier that matches applies; its interval grows with each
    retry it grants (IntervalSeconds * BackoffRate ** (n - 1)); MaxAttempts counts retries of one error."""
    rs = st.get("Retry", [])
    pick = [next((i for i, r in enumerate(rs) if _matches(r["ErrorEquals"], e)), None) for e in errors]
    i = pick[-1]
    if i is None or sum(p == i and e == errors[-1] for p, e in zip(pick, errors)) > rs[i].get("MaxAttempts", 3):
        return None
    return rs[i].get("IntervalSeconds", 1) * rs[i].get("BackoffRate", 2.0) ** (pick.count(i) - 1)
