"""Ties the parts together: opens the stores, the model, the live data and the engine.

One `Runtime` per process (the app's lifespan, a CLI command, a benchmark);
nothing here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.engine import Engine
from assistant.sessions import SessionStore
from assistant.settings import Settings
from assistant.toolbox import Toolbox

if TYPE_CHECKING:  # imported when a Runtime opens, not when this module is imported
    from retrieval.docstore import DocumentStore
    from retrieval.embeddings import Embedder
    from retrieval.vectors import VectorIndexes
    from tools.context import ToolContext


def shipped_intents_path() -> Path:
    """Fargo's own labelled intent examples, shipped with the package."""
    from assistant.intents import TRAINING_DATA_PATH

    return TRAINING_DATA_PATH


def intent_classifier(settings: Settings, embedder):
    """The latest trained intent model under the data dir; trained from the shipped set (and the public sample) on
    first use and again when the shipped set has changed since (`assistant.intents.current_model`)."""
    from assistant.intents import current_model

    return current_model(settings.data_dir, embedder)


def normaliser(products: dict):
    """Reads customers' shorthand and typos as the catalogue's words and the shipped intents' (English) words; the
    intents keep their deliberate typos ("anual"), which are no target."""
    from assistant.intents.examples import load_examples
    from tools.requests.normalise import Normaliser, english_words, vocabulary_of

    said = vocabulary_of(text for text, _ in load_examples(shipped_intents_path())) & english_words()
    catalogue = vocabulary_of(text for product in products.values()
                              for text in (product.get("name"), product.get("description"),
                                           *(product.get("need_statements") or ())))
    return Normaliser(said | catalogue)


@dataclass
class Runtime:
    settings: Settings
    store: DocumentStore
    vectors: VectorIndexes
    embedder: Embedder
    ctx: ToolContext
    engine: Engine

    @classmethod
    def open(cls, settings: Settings, toolbox: Toolbox | None = None) -> Runtime:
        from assistant.llm import LLMResponder
        from retrieval.docstore import open_store
        from retrieval.embeddings import get_embedder
        from retrieval.vectors import VectorIndexes
        from tools.context import ToolContext
        from tools.registry import langchain_tools

        store = open_store(settings)
        try:
            embedder = get_embedder()
            embedder.keep_recent(settings.embedding_cache_texts)
            vectors = VectorIndexes.open(settings, embedder)
            ctx = ToolContext.open(store, vectors, embedder, settings.data_dir / "graph")
            names = {pid: product["name"] for pid, product in ctx.products.items()}
            llm = LLMResponder.from_settings(settings, langchain_tools(ctx), catalogue_names=names)
            engine = Engine(ctx, intent_classifier(settings, embedder), SessionStore(store), embedder,
                            toolbox or Toolbox(), llm=llm, normaliser=normaliser(ctx.products))
        except BaseException:
            store.close()
            raise
        return cls(settings, store, vectors, embedder, ctx, engine)

    def close(self) -> None:
        self.vectors.close()
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
