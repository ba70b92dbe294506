"""Backends by name: ``register(name)(factory)`` and ``create_backend(name, settings)``.

A factory is ``(settings, model) -> ChatBackend``; ``model`` is ``None`` for the backend's
default.  Built-ins (``openai``, ``local``, ``fake``) import their modules only when created,
so picking ``fake`` never imports the OpenAI SDK or llama.cpp.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from service.config import Settings
from service.errors import ConfigError
from service.llm.base import ChatBackend

Factory = Callable[[Settings, str | None], ChatBackend]

_factories: dict[str, Factory] = {}
_lock = threading.Lock()


def register(name: str, *, replace: bool = False) -> Callable[[Factory], Factory]:
    """Decorator registering ``factory`` under ``name``.  Re-registering needs ``replace=True``."""

    def decorate(factory: Factory) -> Factory:
        with _lock:
            if name in _factories and not replace:
                raise ConfigError(f"a chat backend named {name!r} is already registered")
            _factories[name] = factory
        return factory

    return decorate


def unregister(name: str) -> None:
    """Remove a backend (tests that registered their own clean up with this)."""
    with _lock:
        _factories.pop(name, None)


def available() -> list[str]:
    """Registered backend names, sorted."""
    with _lock:
        return sorted(_factories)


def create_backend(name: str, settings: Settings, model: str | None = None) -> ChatBackend:
    """Build the backend registered as ``name``; unknown names raise ``ConfigError``."""
    with _lock:
        factory = _factories.get(name)
    if factory is None:
        raise ConfigError(
            f"unknown chat backend {name!r} (NEWSDESK_LLM_BACKEND); choose one of: " + ", ".join(available())
        )
    return factory(settings, model)


def backend_from_settings(settings: Settings) -> ChatBackend:
    """The backend the settings select: ``llm_backend`` with ``llm_model``."""
    return create_backend(settings.llm_backend, settings, settings.llm_model)


@register("openai")
def _openai(settings: Settings, model: str | None) -> ChatBackend:
    from service.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(settings, model)


@register("local")
def _local(settings: Settings, model: str | None) -> ChatBackend:
    from service.llm.local import LocalBackend

    return LocalBackend(settings, model)


@register("fake")
def _fake(settings: Settings, model: str | None) -> ChatBackend:
    from service.llm.fake import FakeBackend

    return FakeBackend(model=model)
