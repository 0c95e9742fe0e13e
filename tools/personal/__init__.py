"""Recommendations for you: the products worth most to one customer, with the figures behind them.

Each eligible product the customer does not hold gets six weighted components:

- value: what the product would be worth to this customer in a year, computed
  from their own numbers and the product's terms (`estimate_annual_value`),
  squashed as tanh(value / VALUE_SCALE) so a fee that outweighs the rewards
  counts against the product;
- goal: how close what the customer told us (their non-health disclosures),
  what their spending shows (categories rising month on month, payments to
  other lenders or a landlord) and their stage of life come to the product's
  text in the "products" vector index or to one of its need statements; what
  they told us counts most;
- likely goal: a goal the customer has not told us but likely has, from
  the customers who did tell us (`tools.lookalike.GoalPropensity`: the chance
  from their other traits), times how plainly those customers' own words about
  it ask for the product (the goal match of up to GOAL_EXAMPLES of their
  texts, averaged); the reason names the customer's traits, never another
  customer's words;
- peers: how much more often than average the holders of one of the customer's
  products also hold this one (item-item co-occurrence over the live graph's
  holdings, built once per ToolContext);
- lookalike: the estimated chance that customers like this one (same age and
  income band, occupation, risk appetite, goals told us, spending categories,
  rising spending, categories taking more of their card spending than for
  most customers, products held) hold the product, from the live feature documents
  (`tools.lookalike`, built once per ToolContext); the reason names the traits
  that raise it most and cites the customer's own fields, never a figure;
- openers: the chance that this customer's next account is the product, from a
  logistic regression over the same traits fitted on what customers opened in
  the last RECENT_DAYS (their accounts' opening dates): what people like this
  one do next (`tools.lookalike.NextProducts`).

The score is their weighted sum; `components` keeps each part and every reason quotes
stored values through `Evidence`. A product is only recommended with at least
one reason, so every card can answer "why?".

Privacy: features are read only through `credit_score_inputs` (no protected
attribute such as gender or marital status can move a score), the profile
summary is not embedded because it names the marital status, and health data
stays out: health disclosures are skipped and medical and pharmacy spend is never
read. Healthcare products (health plans, HSAs) are ranked like any other, from
these non-health signals only; reading health data to rank them is the
healthcare tool's, with consent. The models learnt from customers' traits
(lookalikes, next products, likely goals and their tellers' words) learn only
from customers who allow profiling. A customer who has withdrawn consent to profiling gets nothing
personal: only the products customers opened most in the last RECENT_DAYS that
the eligibility rules let them have, each citing that count and nothing of theirs.
"""

from tools.personal.coholding import PEER_PRIOR, CoHolding, coholding
from tools.personal.goals import (
    GOAL_EXAMPLES,
    GOAL_FLOOR,
    GOAL_FULL,
    GoalSource,
    goal_closeness,
    goal_products,
    goal_similarities,
    goal_sources,
    likely_goals,
)
from tools.personal.models import RECENT_DAYS, LiveModels, live_models
from tools.personal.ranking import (
    LIKELY_GOAL_FULL,
    LOOKALIKE_FULL,
    MAX_PER_CATEGORY,
    MIN_REASON,
    OPENER_FULL,
    PEER_SCALE,
    VALUE_SCALE,
    WEIGHTS,
    Signals,
    recommend_personal,
)
from tools.personal.value import Estimate, estimate_annual_value

__all__ = [
    "GOAL_EXAMPLES", "GOAL_FLOOR", "GOAL_FULL", "LIKELY_GOAL_FULL", "LOOKALIKE_FULL", "MAX_PER_CATEGORY", "MIN_REASON",
    "OPENER_FULL", "PEER_PRIOR", "PEER_SCALE", "RECENT_DAYS", "VALUE_SCALE", "WEIGHTS", "CoHolding", "Estimate",
    "GoalSource", "LiveModels", "Signals", "coholding", "estimate_annual_value", "goal_closeness", "goal_products",
    "goal_similarities", "goal_sources", "likely_goals", "live_models", "recommend_personal",
]
