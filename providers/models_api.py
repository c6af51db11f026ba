"""The `/models` probe's answers, classified: Anthropic and OpenAI share it."""

from __future__ import annotations

from providers.body import error_message, looks_like_html, parse_json
from providers.results import Classified, Verdict
from providers.text import clean


def classify_models_answer(
    status: int, body: bytes, *, rejected_404: bool = False
) -> Classified:
    """Classify a `/models` answer; Anthropic and OpenAI differ only in 404 for disabled keys."""
    payload = parse_json(body)
    message = error_message(payload)
    if 200 <= status < 300:
        if not (isinstance(payload, dict) and isinstance(payload.get("data"), list)):
            what = "an HTML page" if looks_like_html(body) else "a body that is not a model list"
            return Classified(Verdict.UNEXPECTED, f"HTTP {status} with {what}")
        return Classified(Verdict.LIVE, "authenticated")
    if status == 401:
        return Classified(Verdict.REJECTED, message or "401 unauthorized")
    if status == 404 and rejected_404:
        # A disabled key answers 404 with the provider's error body; a wrong URL behind
        # a proxy answers 404 with something else, which is a misconfiguration.
        if isinstance(payload, dict) and payload.get("type") == "error":
            return Classified(Verdict.REJECTED, message or "404: key disabled")
        return Classified(Verdict.UNEXPECTED, "404 without the provider's error body (check base_url)")
    if status == 429:
        return Classified(Verdict.THROTTLED, message or "rate limited")
    if status >= 500:
        what = message or ("HTML error page" if looks_like_html(body) else f"server error {status}")
        return Classified(Verdict.UNAVAILABLE, f"{status}: {clean(what)}")
    if 300 <= status < 400:
        return Classified(
            Verdict.UNEXPECTED, f"redirect {status} not followed (keys go only to base_url)"
        )
    if looks_like_html(body):
        return Classified(Verdict.UNEXPECTED, f"HTTP {status} with an HTML page")
    return Classified(Verdict.UNEXPECTED, message or f"HTTP {status}")
