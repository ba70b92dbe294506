"""Follow-up questions: the last question of a conversation, made to stand alone.

"How many troops did North Korea send?" then "And how many were killed or wounded?": the second
question names nothing that retrieval could find.  Before retrieval, :func:`standalone` asks the
model (prompt ``rewrite``, one short logged call) to rewrite it with what the earlier turns name:
"How many North Korean troops were killed or wounded in Kursk?".  The rewritten question is then
asked as any other, and the answer reports it, so a reader can see what was searched for.

No earlier user turn, no call.  A reply that is not one plausible question (empty, several lines,
far longer than the conversation could justify, a statement where a question was asked, or the
fake backend's ``INSUFFICIENT``) is not used: the question is then asked with the earlier
question before it (:func:`joined`), the cheap rewrite that the follow-up eval measures the
model against (``evals/suites/followups.yaml``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.errors import InvalidInput
from service.llm.base import ChatBackend, Usage
from service.logs.calls import CallLog, call_model
from service.prompts import load_prompt

PROMPT = "rewrite"
MAX_TURNS = 6
"""The most recent turns shown to the rewrite (older ones rarely decide what "it" means)."""
MAX_TURN_CHARS = 600
"""Each shown turn is cut to this many characters: an answer's sources list adds nothing here."""
MAX_GROWTH = 160
"""A rewrite may add at most this many characters to the question, or it is not a rewrite."""


@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Standalone:
    question: str
    """The question to retrieve for and answer."""
    asked: str
    """The question as the user typed it."""
    method: str
    """``none`` (no earlier turn), ``model`` (rewritten by the model) or ``joined`` (the model's reply was unusable)."""
    elapsed_ms: float = 0.0
    usage: Usage = field(default_factory=Usage)
    """The rewrite call's tokens (none without a call)."""

    @property
    def rewritten(self) -> bool:
        return self.question != self.asked


def check_history(history: Sequence[Turn]) -> None:
    for i, t in enumerate(history):
        if t.role not in ("user", "assistant"):
            raise InvalidInput.for_field(f"history[{i}].role", f"must be 'user' or 'assistant', not {t.role!r}")
        if not t.content.strip():
            raise InvalidInput.for_field(f"history[{i}].content", "must not be empty")


def transcript(history: Sequence[Turn]) -> str:
    lines = []
    for t in list(history)[-MAX_TURNS:]:
        text = " ".join(t.content.split())
        if len(text) > MAX_TURN_CHARS:
            text = text[:MAX_TURN_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"{'User' if t.role == 'user' else 'Assistant'}: {text}")
    return "\n".join(lines)


def joined(history: Sequence[Turn], question: str) -> str:
    """The cheap rewrite: the last earlier user question, then this one."""
    before = next((t.content.strip() for t in reversed(history) if t.role == "user"), "")
    return f"{before} {question.strip()}".strip()


def usable(reply: str, question: str) -> str | None:
    """The rewrite, or ``None`` when it is not one.  A question must stay a question: a small
    model sometimes answers instead ("Mississippi filed the petition."), and that statement
    would be searched for and then asked as if it were the user's question."""
    text = reply.strip().strip('"“”').strip()
    if not text or "\n" in text or text.upper() == "INSUFFICIENT":
        return None
    if len(text) > len(question) + MAX_GROWTH:
        return None
    if question.rstrip().endswith("?") and not text.endswith("?"):
        return None
    return text


def standalone(backend: ChatBackend, history: Sequence[Turn], question: str, *, log: CallLog | None,
               prompt_version: str | None = None) -> Standalone:
    """``question`` made to stand alone, given the earlier turns of its conversation."""
    check_history(history)
    if not any(t.role == "user" for t in history):
        return Standalone(question, question, "none")
    t0 = time.perf_counter()
    tpl = load_prompt(PROMPT, prompt_version)
    messages = tpl.render(conversation=transcript(history), question=" ".join(question.split()))
    completion = call_model(backend, messages, log=log, prompt_name=tpl.name, prompt_version=tpl.version,
                            temperature=tpl.temperature, max_tokens=tpl.max_tokens)
    elapsed = round((time.perf_counter() - t0) * 1000, 1)
    text = usable(completion.text, question)
    if text is None:
        return Standalone(joined(history, question), question, "joined", elapsed, completion.usage)
    return Standalone(text, question, "model", elapsed, completion.usage)
