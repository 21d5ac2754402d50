"""A LangChain `BaseRetriever` over the hybrid retrieval, for chains built outside this project."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.retrieve import Retriever


class ProcedureRetriever(BaseRetriever):
    """One Document per procedure (best passage first), ranked like `assistant search`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: Retriever
    audience: str = "citizen"
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.retriever.search(query, audience=self.audience, k=self.k)
        docs = []
        for cand in result.candidates:
            best = max(cand.hits, key=lambda h: h.score, default=None)
            meta: dict[str, Any] = {"procedure_code": cand.code, "title": cand.title, "score": cand.score,
                                    "facet": result.query.facets[0] if result.query.facets else None}
            if best is not None:
                meta.update(source_id=best.source.source_id, section=best.chunk.section, url=best.source.url,
                            page=best.chunk.page)
            docs.append(Document(page_content=best.chunk.text if best else cand.title, metadata=meta))
        return docs
