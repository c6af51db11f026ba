"""The gate and streak rules over many generated sequences.

A reference model states the rule from the whole history ("the last N results all
qualify"); the real Track/evaluate, fed one result at a time, must agree after every
step. Plus the plain cases a user would name.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.results import ProbeResult, Verdict
from tui.engine.gate import HISTORY, Role, Track, evaluate, qualifies, serving

OLD_FP, NEW_FP, OTHER_FP = "0123456789ab", "ba9876543210", "ffffffffffff"

verdicts = st.sampled_from(list(Verdict))
fps = st.sampled_from([OLD_FP, NEW_FP, OTHER_FP, None])
events = st.lists(
    st.tuples(st.sampled_from([Role.NEW, Role.DEPLOYMENT]), verdicts, fps), max_size=60
)


def result(verdict: Verdict, fp: str | None = None) -> ProbeResult:
    return ProbeResult(verdict, 200 if verdict is Verdict.LIVE else 500, served_fingerprint=fp)


def model_streak_ok(history: list[tuple[Verdict, str | None]], role: Role, need: int, policy: str) -> bool:
    """The rule stated whole: the last `need` results (indeterminate ones left out under
    `hold`) are all live, and for the deployment all on NEW; over one target's history."""
    seen = [
        (v, fp) for v, fp in history if not (policy == "hold" and v.indeterminate)
    ]
    if len(seen) < need:
        return False
    for v, fp in seen[-need:]:
        if v is not Verdict.LIVE:
            return False
        if role is Role.DEPLOYMENT and fp != NEW_FP:
            return False
    return True


@settings(max_examples=1000, deadline=None)
@given(events=events, need=st.integers(1, 6), policy=st.sampled_from(["reset", "hold"]),
       with_deployment=st.booleans())
def test_gate_matches_the_rule_after_every_result(events, need, policy, with_deployment):
    new = Track(Role.NEW, need, policy)
    dep = Track(Role.DEPLOYMENT, need, policy) if with_deployment else None
    history: dict[Role, list[tuple[Verdict, str | None]]] = {Role.NEW: [], Role.DEPLOYMENT: []}
    for role, verdict, fp in events:
        if role is Role.DEPLOYMENT and dep is None:
            continue
        r = result(verdict, fp if role is Role.DEPLOYMENT else None)
        track = new if role is Role.NEW else dep
        track.record(r, qualifies(role, r, NEW_FP))
        history[role].append((verdict, r.served_fingerprint))
        gate = evaluate(new, dep, OLD_FP, NEW_FP)
        expected = model_streak_ok(history[Role.NEW], Role.NEW, need, policy)
        if dep is not None:
            dep_history = history[Role.DEPLOYMENT]
            expected = expected and model_streak_ok(dep_history, Role.DEPLOYMENT, need, policy)
            # The key served is judged from the last answer that names one (under `hold`,
            # an indeterminate answer naming no key is no evidence); it must be NEW.
            naming = [
                fp for v, fp in dep_history
                if not (policy == "hold" and v.indeterminate and fp is None)
            ]
            expected = expected and bool(naming) and naming[-1] == NEW_FP
            # And OLD was not reported within the last `streak` answers, whatever they were.
            expected = expected and OLD_FP not in [fp for _, fp in dep_history[-need:]]
        assert gate.open == expected, (history, gate)
        if gate.open and dep is not None:
            # Never open while OLD was served within the last streak.
            assert OLD_FP not in dep.served
        if not gate.open:
            assert gate.reasons


@settings(max_examples=200, deadline=None)
@given(seq=st.lists(verdicts, max_size=400))
def test_memory_is_bounded_however_long_it_runs(seq):
    track = Track(Role.DEPLOYMENT, 5)
    for v in seq:
        track.record(result(v, NEW_FP), qualifies(Role.DEPLOYMENT, result(v, NEW_FP), NEW_FP))
    assert len(track.history) <= HISTORY
    assert len(track.served) <= 5
    assert track.probes == len(seq)


def feed(track: Track, *verdicts: Verdict, fp: str | None = None) -> None:
    for v in verdicts:
        r = result(v, fp)
        track.record(r, qualifies(track.role, r, NEW_FP))


def test_one_failure_relocks_an_open_gate():
    new = Track(Role.NEW, 3)
    feed(new, Verdict.LIVE, Verdict.LIVE, Verdict.LIVE)
    assert evaluate(new, None, OLD_FP, NEW_FP).open
    feed(new, Verdict.REJECTED)
    gate = evaluate(new, None, OLD_FP, NEW_FP)
    assert not gate.open and gate.reasons == ("new key 0/3 live",)


def test_deployment_serving_old_keeps_the_gate_shut_and_says_so():
    new, dep = Track(Role.NEW, 2), Track(Role.DEPLOYMENT, 2)
    feed(new, Verdict.LIVE, Verdict.LIVE)
    feed(dep, Verdict.LIVE, Verdict.LIVE, fp=OLD_FP)
    gate = evaluate(new, dep, OLD_FP, NEW_FP)
    assert not gate.open
    assert "deployment still serving OLD" in gate.reasons
    assert "deployment 0/2 live on NEW" in gate.reasons
    assert serving(dep.last, OLD_FP, NEW_FP) == "OLD"


def test_deployment_without_fingerprint_is_health_but_never_opens_the_gate():
    new, dep = Track(Role.NEW, 1), Track(Role.DEPLOYMENT, 1)
    feed(new, Verdict.LIVE)
    feed(dep, Verdict.LIVE, fp=None)
    assert serving(dep.last, OLD_FP, NEW_FP) == "unknown key"
    assert "deployment does not report which key it serves" in evaluate(new, dep, OLD_FP, NEW_FP).reasons


def test_hold_policy_lets_indeterminate_results_pass_without_breaking_the_streak():
    held, reset = Track(Role.NEW, 3, "hold"), Track(Role.NEW, 3, "reset")
    for track in (held, reset):
        feed(track, Verdict.LIVE, Verdict.LIVE, Verdict.THROTTLED, Verdict.UNREACHABLE, Verdict.LIVE)
    assert held.streak == 3 and reset.streak == 1
    feed(held, Verdict.UNEXPECTED)  # never indeterminate: breaks the streak under either policy
    assert held.streak == 0


def test_old_key_streak_counts_rejections_only_when_verifying():
    rejected = result(Verdict.REJECTED)
    assert not qualifies(Role.OLD, rejected, NEW_FP)
    assert qualifies(Role.OLD, rejected, NEW_FP, verifying=True)
    assert not qualifies(Role.OLD, result(Verdict.UNAVAILABLE), NEW_FP, verifying=True)
