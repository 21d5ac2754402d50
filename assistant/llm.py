"""Pick the optional chat model from settings (`ASSISTANT_LLM`).

`none` (the default) means no model: answers are composed from the sources alone.
`openai:MODEL` talks to any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama's
`/v1` API) through `langchain-openai`; `ollama:MODEL` talks to Ollama's native API through
`langchain-ollama`. Both packages are optional: `pip install 'procedure-assistant[llm]'`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.settings import Settings

PROVIDERS = ("openai", "ollama")
ACCEPTED_FORMS = "`none`, `openai:MODEL` (any OpenAI-compatible server) or `ollama:MODEL`"
INSTALL_HINT = "pip install 'procedure-assistant[llm]'"
# OpenAI-compatible servers that run without authentication still want some key in the header.
PLACEHOLDER_API_KEY = "EMPTY"


def parse_llm(spec: str) -> tuple[str, str] | None:
    """`"openai:gpt-4o-mini"` → `("openai", "gpt-4o-mini")`; `"none"` → None; else ValueError."""
    text = spec.strip()
    if text.lower() in ("", "none"):
        return None
    provider, sep, model = text.partition(":")
    provider = provider.strip().lower()
    model = model.strip()
    if not sep or provider not in PROVIDERS or not model:
        raise ValueError(f"ASSISTANT_LLM={spec!r} is not understood; use {ACCEPTED_FORMS}.")
    return provider, model


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model the settings ask for, or None when generation is off."""
    parsed = parse_llm(settings.llm)
    if parsed is None:
        return None
    provider, model = parsed
    if provider == "openai":
        return _openai(settings, model)
    return _ollama(settings, model)


def _openai(settings: Settings, model: str) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(f"ASSISTANT_LLM=openai:… needs langchain-openai: {INSTALL_HINT}") from exc
    api_key = settings.llm_api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        if not settings.llm_base_url:
            raise ValueError(
                "ASSISTANT_LLM=openai:… without ASSISTANT_LLM_BASE_URL talks to api.openai.com and "
                "needs ASSISTANT_LLM_API_KEY (or OPENAI_API_KEY)."
            )
        api_key = PLACEHOLDER_API_KEY
    return ChatOpenAI(
        model=model,
        base_url=settings.llm_base_url,
        api_key=api_key,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=0,
    )


def _ollama(settings: Settings, model: str) -> BaseChatModel:
    try:
        from langchain_ollama import ChatOllama
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(f"ASSISTANT_LLM=ollama:… needs langchain-ollama: {INSTALL_HINT}") from exc
    return ChatOllama(
        model=model,
        base_url=settings.llm_base_url,
        temperature=0,
        client_kwargs={"timeout": settings.llm_timeout_s},
    )
