"""The gate, streak and bound rules over many generated sequences.

A reference model states the rule from the whole history ("the last N results all
qualify"); the real Track/evaluate, fed one result at a time, must agree after every
step. Plus the plain cases a user would name.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.results import ProbeResult, Verdict
from tui.engine.bound import OldShare, error_budget, percent, samples_needed, share_bound
from tui.engine.gate import HISTORY, Role, Track, evaluate, qualifies, serving, summarize

OLD_FP, NEW_FP, OTHER_FP = "0123456789ab", "ba9876543210", "ffffffffffff"

verdicts = st.sampled_from(list(Verdict))
fps = st.sampled_from([OLD_FP, NEW_FP, OTHER_FP, None])
events = st.lists(
    st.tuples(st.sampled_from([Role.NEW, Role.DEPLOYMENT]), verdicts, fps), max_size=60
)


def result(verdict: Verdict, fp: str | None = None) -> ProbeResult:
    return ProbeResult(verdict, 200 if verdict is Verdict.LIVE else 500, served_fingerprint=fp)


def model_streak_ok(history: list[tuple[Verdict, str | None]], role: Role, need: int, policy: str) -> bool:
    """The streak rule stated over the whole history of one target."""
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


# -- the bound on the share of traffic still on OLD -----------------------------------------


def sample(fp: str | None, verdict: Verdict = Verdict.LIVE,
           retry_after: float | None = None) -> ProbeResult:
    status = {Verdict.LIVE: 200, Verdict.THROTTLED: 429, Verdict.REJECTED: 401}.get(verdict, 503)
    return ProbeResult(verdict, status, retry_after=retry_after, served_fingerprint=fp)


def open_with_evidence(max_share: float = 0.01, rate: float = 20.0) -> tuple[Track, Track]:
    new, dep = Track(Role.NEW, 2), Track(Role.DEPLOYMENT, 2, evidence=OldShare(max_share, rate))
    feed(new, Verdict.LIVE, Verdict.LIVE)
    return new, dep


def tick(dep: Track, fps: list[str | None], at: float) -> None:
    dep.evidence.add(fps, OLD_FP, NEW_FP, at)
    summary = summarize([sample(fp) for fp in fps], OLD_FP, NEW_FP).alone()
    dep.record(summary, qualifies(Role.DEPLOYMENT, summary, NEW_FP))


def test_one_look_bound_is_the_exact_95_percent_bound():
    # After n NEW samples and no OLD one, P(all n NEW | share p) = (1-p)^n = 5 % at the bound.
    assert share_bound(299, 0.05) < 0.01 < share_bound(298, 0.05)
    assert samples_needed(0.01, 0.05) == 299
    assert abs(share_bound(96, 0.05) - 0.0307) < 0.0001  # about 3/n
    assert share_bound(0, 0.05) == 1.0
    assert samples_needed(1.0, 0.05) == 0  # max_old_share 1.0: the bound is off


def test_the_count_needed_grows_with_the_looks_taken_and_never_shrinks():
    rate = 20.0  # the default: 40 samples every 2 s
    needed = [samples_needed(0.01, error_budget(0.01, rate, t)) for t in range(0, 20_000, 60)]
    assert needed[0] == 845  # the first 10 minutes: 2.5 % over about 121 counts
    assert needed == sorted(needed)
    # After 5.5 hours of watching, under a minute and a half of 100 % NEW at 20 a second.
    assert needed[-1] <= 1700
    # Fewer looks (one sample a tick) need fewer NEW samples in a row.
    assert samples_needed(0.01, error_budget(0.01, 0.5, 0)) < 845


def test_percent_keeps_two_figures_and_never_shows_zero():
    assert [percent(x) for x in (1.0, 0.031, 0.0096, 0.01, 0.00012)] == [
        "100 %", "3.1 %", "0.96 %", "1 %", "0.012 %"]


def test_an_old_sample_resets_the_count_and_relocks_an_open_gate_at_once():
    new, dep = open_with_evidence(rate=1000.0)
    needed = dep.evidence.needed()
    t = 0.0
    while dep.evidence.since_old < needed:
        tick(dep, [NEW_FP] * 100, t)
        opened = evaluate(new, dep, OLD_FP, NEW_FP, now=t).open
        assert opened == (dep.evidence.since_old >= needed)
        t += 0.1
    assert evaluate(new, dep, OLD_FP, NEW_FP, now=t).open
    # 99 NEW and one OLD in one tick: the tick's NEW answers went out with the OLD one.
    tick(dep, [NEW_FP] * 99 + [OLD_FP], t)
    gate = evaluate(new, dep, OLD_FP, NEW_FP, now=t)
    assert not gate.open
    assert dep.evidence.since_old == 0 and dep.evidence.old_last_seen_at == t
    assert "deployment still serving OLD" in gate.reasons
    # The next tick is all NEW again: the count starts over from there, and says so.
    tick(dep, [NEW_FP] * 100, t + 0.1)
    gate = evaluate(new, dep, OLD_FP, NEW_FP, now=t + 0.1)
    assert not gate.open
    bound = [r for r in gate.reasons if r.startswith("OLD may still carry up to ")]
    assert bound and f": 100 of {needed} NEW samples since OLD" in bound[0], gate.reasons


def test_answers_that_name_no_key_neither_count_nor_reset():
    _, dep = open_with_evidence()
    tick(dep, [NEW_FP] * 10, 0.0)
    dep.evidence.add([None] * 30, OLD_FP, NEW_FP, 2.0)  # timeouts, 5xx, no fingerprint
    assert dep.evidence.since_old == 10
    tick(dep, [NEW_FP] * 5 + [None] * 5, 4.0)
    assert dep.evidence.since_old == 15 and dep.evidence.samples == 15
    assert dep.evidence.requests == 50


def test_a_key_that_is_neither_is_an_alarm_and_restarts_the_count():
    new, dep = open_with_evidence(max_share=1.0)
    tick(dep, [NEW_FP] * 10, 0.0)
    tick(dep, [NEW_FP] * 9 + [OTHER_FP], 2.0)
    gate = evaluate(new, dep, OLD_FP, NEW_FP, now=2.0)
    assert "deployment serves a key that is neither OLD nor NEW" in gate.reasons
    assert dep.evidence.since_old == 0 and dep.evidence.mix() == (0, 19, 1)


def test_a_deployment_that_names_no_key_keeps_the_gate_shut_and_says_so():
    new, dep = open_with_evidence(max_share=1.0)
    for t in range(5):
        tick(dep, [None] * 4, float(t))
    gate = evaluate(new, dep, OLD_FP, NEW_FP, now=4.0)
    assert not gate.open and "deployment does not report which key it serves" in gate.reasons


def test_the_locked_reason_says_what_is_missing_with_numbers_and_an_estimate():
    new, dep = open_with_evidence(rate=20.0)
    tick(dep, [OLD_FP] + [NEW_FP] * 39, 0.0)
    for k in range(1, 4):
        tick(dep, [NEW_FP] * 32, 2.0 * k)  # 32 of 40 answered: 16 samples a second lately
    gate = evaluate(new, dep, OLD_FP, NEW_FP, now=6.0)
    words = next(r for r in gate.reasons if r.startswith("OLD may"))
    # 96 NEW samples: the bound is about 1 - c^(1/96); 749 more at 16 a second is 47 s.
    assert words == (f"OLD may still carry up to {percent(dep.evidence.bound(6.0))} of traffic: "
                     "96 of 845 NEW samples since OLD was last seen, about 47 s more"), words
    figures = dep.evidence.figures(6.0)
    assert (figures.n, figures.needed, figures.since_old_seen) == (96, 845, 6.0)
    assert figures.mix == (1, 135, 0)
    assert figures.bound_text() == f"OLD share < {percent(figures.bound)} (95 %)"


def test_a_tick_speaks_with_its_worst_answer_and_backs_off_for_the_longest_retry_after():
    live_new, live_old = sample(NEW_FP), sample(OLD_FP)
    assert summarize([live_new] * 3, OLD_FP, NEW_FP).served_fingerprint == NEW_FP
    mixed = summarize([live_new, live_old, live_new], OLD_FP, NEW_FP)
    assert mixed.verdict is Verdict.LIVE and mixed.served_fingerprint == OLD_FP
    throttled = summarize([live_new, sample(None, Verdict.THROTTLED, 5.0),
                           sample(None, Verdict.THROTTLED, 30.0)], OLD_FP, NEW_FP)
    assert throttled.verdict is Verdict.THROTTLED and throttled.retry_after == 30.0
    assert throttled.served_fingerprint == NEW_FP and len(throttled.samples) == 3
    # One timeout among answers breaks nothing; all of them failing is indeterminate.
    timeout = sample(None, Verdict.UNREACHABLE)
    assert summarize([live_new, timeout], OLD_FP, NEW_FP).verdict is Verdict.LIVE
    assert summarize([timeout, timeout], OLD_FP, NEW_FP).verdict is Verdict.UNREACHABLE
    refused = summarize([live_new, sample(NEW_FP, Verdict.REJECTED)], OLD_FP, NEW_FP)
    assert refused.verdict is Verdict.REJECTED and "1 of 2 samples" in refused.detail


@settings(max_examples=300, deadline=None)
@given(ticks=st.lists(st.lists(st.sampled_from([OLD_FP, NEW_FP, OTHER_FP, None]), min_size=1,
                               max_size=8), max_size=40),
       rate=st.sampled_from([0.5, 20.0, 200.0]))
def test_the_bound_follows_the_rule_stated_over_the_whole_history(ticks, rate):
    """n = NEW samples in the ticks after the last tick that named another key; the gate's
    bound rule holds exactly when n reaches what the bound needs."""
    evidence = OldShare(0.01, rate)
    history: list[list[str | None]] = []
    for k, fps in enumerate(ticks):
        evidence.add(fps, OLD_FP, NEW_FP, float(k))
        history.append(fps)
        last_other = max((i for i, t in enumerate(history)
                          if any(fp not in (NEW_FP, None) for fp in t)), default=-1)
        n = sum(t.count(NEW_FP) for t in history[last_other + 1:])
        assert evidence.since_old == n
        assert (evidence.missing(float(k)) is None) == (n >= evidence.needed(float(k)))
        assert (evidence.bound(float(k)) <= 0.01) == (n >= evidence.needed(float(k)))
