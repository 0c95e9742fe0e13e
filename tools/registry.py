"""The tools as LangChain tools: typed arguments, docstrings written for an LLM to choose them.

Each tool is bound to one open ToolContext. Its content is compact JSON an LLM
can read; its artifact is the list of `Recommendation`s (or search hits) the
engine and the grounding check use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from tools.campaign import campaign_insights
from tools.family import recommend_family
from tools.healthcare import recommend_healthcare
from tools.personal import recommend_personal
from tools.search import search_products

if TYPE_CHECKING:
    from tools.context import ToolContext

TOOL_FUNCTIONS: dict[str, Callable] = {
    "recommend_personal": recommend_personal,
    "recommend_family": recommend_family,
    "recommend_healthcare": recommend_healthcare,
    "search_products": search_products,
    "campaign_insights": campaign_insights,
}


class CustomerArgs(BaseModel):
    customer_id: str = Field(description="The customer the recommendations are for: always the current customer.")


class PersonalArgs(CustomerArgs):
    category: str | None = Field(
        None, description="Only this product category: deposit, card, loan, mortgage, investment, retirement, "
        "education_savings, insurance or healthcare."
    )


class FamilyArgs(CustomerArgs):
    relations: list[str] | None = Field(
        None, description="Whom to recommend for: any of spouse, child, parent, sibling. Empty means spouse, children and parents."
    )


class SearchArgs(BaseModel):
    query: str = Field(description="The product question in the customer's words.")
    customer_id: str | None = Field(None, description="The current customer, to mark which products they can get.")
    category: str | None = Field(None, description="Only this product category.")


def _summary(items) -> str:
    rows = []
    for item in items:
        data = item.to_dict()
        rows.append({key: data.get(key) for key in ("product_id", "name", "title", "text", "reasons", "estimated_annual_value", "relation", "eligible")
                     if data.get(key) not in (None, [], "")})
    return json.dumps(rows, default=str)


def langchain_tools(ctx: ToolContext) -> list[StructuredTool]:
    """The five tools bound to `ctx`, ready for `chat_model.bind_tools(...)`."""

    def personal(customer_id: str, category: str | None = None):
        """Recommend products for the customer from their own spending, goals and what similar customers hold.
        Each result has reasons with the customer's own figures. Use for 'what card suits me', 'how can I save more'.
        It reads no health data: for health plans, HSAs or providers matched to health needs use
        recommend_healthcare.
        For a customer who opted out of profiling the results are not personalised (what customers opened most
        lately, among products they qualify for) and their reasons say so: never present them as tailored."""
        recs = recommend_personal(ctx, customer_id, category=category)
        return _summary(recs), recs

    def family(customer_id: str, relations: list[str] | None = None):
        """Recommend products for the customer's spouse, children or parents, from what people in the same relation and
        life stage hold across the bank. A relative's private data is used only with their consent."""
        recs = recommend_family(ctx, customer_id, relations=relations)
        return _summary(recs), recs

    def healthcare(customer_id: str):
        """Recommend health plans, HSAs, medical financing and partner providers near the customer, from age,
        dependants, medical spending and consented health disclosures."""
        recs = recommend_healthcare(ctx, customer_id)
        return _summary(recs), recs

    def search(query: str, customer_id: str | None = None, category: str | None = None):
        """Search the product catalogue and FAQ for passages that answer a product question; marks products the
        customer is not eligible for. Use for any question about fees, rates, features or how a product works."""
        hits = search_products(ctx, query, customer_id=customer_id, category=category)
        return _summary(hits), hits

    def campaign(customer_id: str):
        """For bank staff only: outreach leads inferred from the customer's social-media campaign posts, each quoting
        the post and suggesting an opening line."""
        leads = campaign_insights(ctx, customer_id)
        return _summary(leads), leads

    specs = (
        ("recommend_personal", personal, PersonalArgs),
        ("recommend_family", family, FamilyArgs),
        ("recommend_healthcare", healthcare, CustomerArgs),
        ("search_products", search, SearchArgs),
        ("campaign_insights", campaign, CustomerArgs),
    )
    return [
        StructuredTool.from_function(func=function, name=name, description=function.__doc__.strip(),
                                     args_schema=schema, response_format="content_and_artifact")
        for name, function, schema in specs
    ]
