"""`keyturn probe ROTATION [--json] [--expect new|old]`: every target once; the exit code
says how it went. With --expect it is a post-deploy check: 0 only when the deployment
answers live serving that key."""

from __future__ import annotations

import argparse
import asyncio

from tui.cli.common import (
    EXIT_FAIL,
    EXIT_INDETERMINATE,
    EXIT_OK,
    EXIT_USAGE,
    Fail,
    load_rotation,
    out,
)
from tui.cli.probe_output import as_json, as_table
from tui.engine.check import Check, Health, check_once
from tui.engine.gate import Role, serving
from tui.engine.session import load_keys, provider_for

EXIT_FOR = {Health.LIVE: EXIT_OK, Health.FAILING: EXIT_FAIL, Health.INDETERMINATE: EXIT_INDETERMINATE}


def expectation(check: Check, expect: str) -> tuple[bool, str]:
    """Whether the deployment answered live on the `expect`ed key, and in words why not."""
    want = check.new_fingerprint if expect == "new" else check.old_fingerprint
    result = check.results[Role.DEPLOYMENT]
    where = serving(result, check.old_fingerprint, check.new_fingerprint)
    label = expect.upper()
    if result.verdict.value == "live" and result.served_fingerprint == want:
        return True, f"met: the deployment answers live on the {label} key ({want})"
    if where in ("OLD", "NEW", "MISMATCH"):
        said = {"MISMATCH": "a key that is neither OLD nor NEW"}.get(where, f"the {where} key")
        return False, (f"not met: expected the {label} key, the deployment serves {said}"
                       + ("" if result.verdict.value == "live"
                          else f" and answered {result.verdict.value}"))
    if where == "no answer":
        return False, f"not met: the deployment did not answer ({result.detail})"
    return False, (f"not met: the deployment answered {result.verdict.value} without naming "
                   f"its key ({result.detail})")


def run(args: argparse.Namespace) -> int:
    _, rotation = load_rotation(args)
    keys = load_keys(rotation)
    if args.expect and not rotation.deployment:
        raise Fail(f"{rotation.name}: --expect checks which key the deployment serves, and the "
                   "rotation has no deployment (add deployment = \"https://…\")", EXIT_USAGE)
    if args.expect == "new" and keys.new is None:
        raise Fail(f"{rotation.name}: --expect new: no new key is configured to compare with",
                   EXIT_USAGE)
    check = asyncio.run(check_once(rotation, keys, provider_for(rotation)))
    code = EXIT_FOR[check.health]
    said = None
    expect_doc = None
    if args.expect:
        met, said = expectation(check, args.expect)
        code = EXIT_OK if met else EXIT_FAIL
        expect_doc = {"key": args.expect, "met": met, "reason": said}
    if args.json:
        out(as_json(check, code, expect_doc))
    else:
        for line in as_table(check, said):
            out(line)
    return code
