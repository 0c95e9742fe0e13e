"""What an LLM sees of the tools: names, descriptions and arguments, all read from the tool functions themselves."""

from __future__ import annotations

from dataclasses import replace

import pytest
from langchain_core.utils.function_calling import convert_to_openai_tool

from tools.registry import TOOL_FUNCTIONS, TOOLS, langchain_tools
from tools.spec import REGISTRY, ToolSpecError, spec_of, tool

EXPECTED_ARGUMENTS = {
    "recommend_personal": ({"customer_id"}, {"category"}),
    "recommend_family": ({"customer_id"}, {"relations"}),
    "recommend_healthcare": ({"customer_id"}, {"specialty"}),
    "search_products": ({"query"}, {"customer_id", "category", "exclude"}),
    "campaign_insights": ({"customer_id"}, set()),
}


def openai_specs(ctx=None) -> dict[str, dict]:
    return {spec["function"]["name"]: spec["function"]
            for spec in map(convert_to_openai_tool, langchain_tools(ctx or object()))}


def test_the_llm_sees_every_tool_with_exactly_its_documented_arguments():
    specs = openai_specs()
    assert set(specs) == set(EXPECTED_ARGUMENTS) == set(TOOL_FUNCTIONS)
    for name, (required, optional) in EXPECTED_ARGUMENTS.items():
        parameters = specs[name]["parameters"]
        assert set(parameters["properties"]) == required | optional, name
        assert set(parameters.get("required", [])) == required, name
        assert all(prop["description"] for prop in parameters["properties"].values()), name


def test_engine_only_parameters_never_reach_the_llm():
    for spec in openai_specs().values():
        assert not {"ctx", "k", "query_embedding"} & set(spec["parameters"]["properties"])


def test_a_tool_description_is_its_docstring_before_args():
    specs = openai_specs()
    personal = specs["recommend_personal"]["description"]
    assert personal.startswith("Recommend products for the customer from their own spending")
    assert "never present them as tailored" in personal
    assert "Args:" not in personal and "customer_id:" not in personal
    category = specs["recommend_personal"]["parameters"]["properties"]["category"]["description"]
    assert "education_savings" in category
    relations = specs["recommend_family"]["parameters"]["properties"]["relations"]["description"]
    assert relations.endswith("Empty means spouse, children and parents.")  # a continued line is joined


def test_a_bound_tool_calls_the_function_with_the_context_and_returns_its_results(monkeypatch):
    seen = []

    class Result:
        def to_dict(self):
            return {"product_id": "P001", "name": "Everyday Checking", "reasons": ["fits"]}

    def fake_healthcare(ctx, customer_id, k=5, specialty=None):
        seen.append((ctx, customer_id, k, specialty))
        return [Result()]

    monkeypatch.setitem(TOOLS, "recommend_healthcare", replace(TOOLS["recommend_healthcare"], function=fake_healthcare))
    ctx = object()
    bound = {t.name: t for t in langchain_tools(ctx)}["recommend_healthcare"]
    message = bound.invoke({"type": "tool_call", "id": "call-1", "name": "recommend_healthcare",
                            "args": {"customer_id": "C0000001"}})
    assert seen == [(ctx, "C0000001", 5, None)]
    assert "Everyday Checking" in message.content and len(message.artifact) == 1


def test_adding_a_tool_is_one_decorated_function(monkeypatch):
    monkeypatch.setattr("tools.spec.REGISTRY", dict(REGISTRY))
    from tools import spec as spec_module

    @tool
    def recommend_savings_goal(ctx, customer_id: str, months: int = 12, k: int = 3) -> list:
        """Plan savings toward a goal the customer names.

        Args:
            customer_id: The current customer.
            months: How many months to save for.
        """
        return []

    registered = spec_module.REGISTRY["recommend_savings_goal"]
    schema = registered.arguments.model_json_schema()
    assert registered.description == "Plan savings toward a goal the customer names."
    assert set(schema["properties"]) == {"customer_id", "months"}
    assert schema["properties"]["months"]["default"] == 12 and schema["required"] == ["customer_id"]


def test_a_docstring_naming_a_parameter_the_function_lacks_is_refused():
    def recommend_nothing(ctx, customer_id: str) -> list:
        """Nothing.

        Args:
            customer: The current customer.
        """
        return []

    with pytest.raises(ToolSpecError, match="recommend_nothing.*customer under Args"):
        spec_of(recommend_nothing)


def test_a_tool_without_a_docstring_is_refused():
    def recommend_quietly(ctx, customer_id: str) -> list:
        return []

    with pytest.raises(ToolSpecError, match="recommend_quietly.*no docstring"):
        spec_of(recommend_quietly)
