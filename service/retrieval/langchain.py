"""A LangChain ``BaseRetriever`` over the Newsdesk index.

Plug Newsdesk retrieval into any LangChain chain: each ``Document`` is one source sentence,
with its stable sentence id, exact offsets and article metadata, so a chain can cite it.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from service.retrieval.search import Retriever
from service.store.catalog import Filters


class NewsdeskRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 8
    filters: Filters = Filters()

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        result = self.retriever.search(query, k=self.k, filters=self.filters)
        return [
            Document(
                page_content=h.text,
                id=h.id,
                metadata={"sentence_id": h.id, "article_id": h.article_id, "start": h.start, "end": h.end,
                          "title": h.title, "url": h.url, "source": h.source, "published_at": h.published_at,
                          "score": h.score, "dense": h.dense},
            )
            for h in result.sentences
        ]
