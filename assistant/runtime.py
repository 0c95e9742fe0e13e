"""Ties the parts together: opens the stores, the model, the live data and the engine.

One `Runtime` per process (the app's lifespan, a CLI command, a benchmark);
nothing here runs at import time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.adaptive import CachedAcceptance
from assistant.callers import Caller, Role
from assistant.contact_policy import ContactPolicy, ContactRules
from assistant.decisions import DecisionLog
from assistant.engine import Engine
from assistant.escalation import ConversationRules
from assistant.experiment import Split
from assistant.levers import load_levers
from assistant.offers import Adaptive, Offers
from assistant.sessions import Session, SessionStore
from assistant.settings import Settings
from assistant.toolbox import Toolbox

if TYPE_CHECKING:  # imported when a Runtime opens, not when this module is imported
    from retrieval.docstore import DocumentStore
    from retrieval.embeddings import Embedder
    from retrieval.vectors import VectorIndexes
    from tools.context import ToolContext


# One conversation touching every kind of turn, so each tool builds its memoised indexes and caches (the catalogue
# and FAQ matrices, the campaign statements' vectors, the needs lexicon, the goal and co-holding tables).
WARM_UP_TURNS = (
    "which credit card suits my spending?", "why the first one?", "tell me more about the second one",
    "anything cheaper?", "show me other options", "only ones without an annual fee", "what about for my wife?",
    "what is a HELOC?", "what are the fees on the savings account?", "a health plan for my kids",
    "I need a dentist", "we are redoing the kitchen, how do I pay for it?", "saving for retirement",
    "any campaign leads for this customer?", "hello", "thanks", "I lost my card",
)


class ScratchSessions(SessionStore):
    """Sessions kept in memory for a warm-up conversation: nothing is written to the store."""

    def __init__(self) -> None:
        self.kept: dict[str, Session] = {}

    def get(self, session_id: str) -> Session:
        return self.kept[session_id]

    def save(self, session: Session) -> None:
        self.kept[session.session_id] = session


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


def offers(settings: Settings, store, tools: Toolbox, ctx) -> Offers:
    """The contact policy from the settings, the decision log in the store, the levers file's levers and the
    ranking experiment's split with the acceptance the worker learnt."""
    return Offers(tools, ctx, ContactPolicy(store, ContactRules.from_settings(settings)), DecisionLog(store),
                  load_levers(settings.levers_file, ctx.products),
                  Adaptive(Split.from_settings(settings), CachedAcceptance(store)))


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
            embedder = get_embedder(settings.encoder)
            embedder.keep_recent(settings.embedding_cache_texts)
            vectors = VectorIndexes.open(settings, embedder)
            ctx = ToolContext.open(store, vectors, embedder)
            names = {pid: product["name"] for pid, product in ctx.products.items()}
            llm = LLMResponder.from_settings(settings, langchain_tools(ctx), catalogue_names=names)
            toolbox = toolbox or Toolbox()
            engine = Engine(ctx, intent_classifier(settings, embedder), SessionStore(store), embedder,
                            toolbox, llm=llm, normaliser=normaliser(ctx.products),
                            rules=ConversationRules.from_settings(settings), offers=offers(settings, store, toolbox, ctx))
        except BaseException:
            store.close()
            raise
        return cls(settings, store, vectors, embedder, ctx, engine)

    def warm_up(self) -> None:
        """Take `WARM_UP_TURNS` as an agent for the first customer, in a scratch session and without the LLM, and embed
        every life-event statement, so the first real turn finds every index and cache built (the service does this
        before it says ready). What one customer's own records say is still embedded on their first turn."""
        first = self.store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=1)
        customer_id = first[0]["_id"] if first else None
        engine = copy.copy(self.engine)
        engine.sessions = ScratchSessions()
        engine.offers = Offers(engine.tools, engine.ctx, engine.offers.policy)  # no decision records
        caller, session_id = Caller(role=Role.agent, key_id="warm-up"), None
        for message in WARM_UP_TURNS:
            session_id = engine.turn(caller, message, session_id, customer_id, phrase=False).session_id
        from tools.campaign import NEED_RULES, statement_vectors

        # the life events' statements are embedded when a message first names the event: all of them now
        statement_vectors(self.embedder, [statement for rule in NEED_RULES for statement in rule.statements])

    def close(self) -> None:
        self.vectors.close()
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
