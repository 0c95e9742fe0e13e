"""Hidden needs: what a synthetic customer really wants, and how it shows.

A need decides which products would serve the customer (the ground truth an
evaluation scores against) and leaves traces Fargo can pick up: spending
(`boosts`, rising over the last `ramp_months` months or steady when 0), recurring
transfers, disclosures and social-media posts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Need:
    name: str
    products: tuple[str, ...]
    weight: float
    shared: bool  # a spouse living in the same home usually has it too
    topic: str  # disclosure topic
    event: bool  # disclosed as an upcoming event rather than a life goal
    disclosures: tuple[str, ...]
    posts: tuple[str, ...]
    boosts: dict[str, float] = field(default_factory=dict)
    ramp_months: int = 0
    goal_amount: tuple[int, int] | None = None


NEEDS = (
    Need("travel_rewards_card", ("P010", "P047"), 3.0, False, "travel", False,
         ("I travel for work most months and want to earn more on flights and hotels.",
          "We're planning a big trip to Japan next spring.",
          "I'd like to visit family abroad twice a year."),
         ("Just booked my 6th flight this year, my card should be paying me back!",
          "Airport lounge again... anyone have a good travel card?",
          "Counting down to Lisbon! Need a card with no foreign fees"),
         {"travel": 40, "dining": 10}, 0, (3000, 12000)),
    Need("cashback_card", ("P011", "P012", "P017"), 2.5, False, "saving_money", False,
         ("I want to get something back on our grocery and fuel spending.",
          "We spend a lot on groceries for the family and want to save."),
         ("Grocery bill was insane this week. There has to be a card that pays cash back on this",
          "Any card that gives real cash back on gas?"),
         {"groceries": 25, "dining": 15, "fuel": 10}, 0, None),
    Need("first_home", ("P027", "P025", "P005", "P043"), 2.5, True, "first_home", False,
         ("We're saving for a down payment on our first home.",
          "I want to stop renting and buy a condo within two years.",
          "Hoping to buy our first house next year."),
         ("We just closed on our first home!!",
          "House hunting every weekend, first time buyers here, wish us luck",
          "Tired of paying rent. Saving for our first place!"),
         {"home_improvement": 5, "shopping": 5}, 6, (30000, 90000)),
    Need("new_baby", ("P055", "P050", "P038", "P041"), 2.0, True, "new_baby", True,
         ("We're expecting our first baby this year.",
          "Baby number two is due in the spring.",
          "We're expecting a baby and want to plan our finances."),
         ("Baby #2 on the way!", "We're expecting! Nursery shopping starts now",
          "Third trimester and the baby costs are adding up fast"),
         {"baby_supplies": 30, "pharmacy": 15, "medical": 12}, 5, (5000, 20000)),
    Need("retirement", ("P036", "P034", "P032", "P052"), 3.0, False, "retirement", True,
         ("I plan to retire in the next two years and want steady income.",
          "Retiring next year and want to make my savings last.",
          "Thinking about retiring at 65 and need a plan."),
         ("Retiring next year, any tips?", "Last year at work before retirement, 30 years done!",
          "How do you turn a 401k into a paycheck? Asking for me, retiring soon"),
         {"medical": 7, "travel": 7}, 0, (200000, 900000)),
    Need("education_savings", ("P038", "P039", "P040"), 2.0, True, "education", False,
         ("I want to start saving for my kids' college.",
          "We want to cover our daughter's university costs.",
          "Saving for private school tuition for our son."),
         ("College tuition numbers are terrifying, when should we start saving??",
          "First day of kindergarten! Time to think about a college fund"),
         {"education": 20}, 0, (20000, 120000)),
    Need("debt_consolidation", ("P019", "P013"), 1.6, False, "debt_consolidation", False,
         ("I want to pay off my credit cards faster.",
          "I'm juggling four card payments and want one lower payment.",
          "Trying to get out of credit card debt this year."),
         ("Card interest is killing me. Anyone consolidated their debt?",
          "Paying off my credit cards one by one, so tired of 28% APR"),
         {"cash_withdrawal": 12, "shopping": 7}, 0, (5000, 30000)),
    Need("car_purchase", ("P020", "P021", "P044"), 2.0, False, "car_purchase", True,
         ("We need a bigger car for the family.",
          "My car is 14 years old; I'm buying a new one this summer.",
          "Planning to buy an electric car next year."),
         ("Test drove three SUVs this weekend. Car shopping is exhausting",
          "My old car finally died. Need a new ride ASAP"),
         {"auto": 30, "fuel": 7}, 4, (15000, 50000)),
    Need("health_coverage", ("P051", "P049", "P050", "P053", "P054", "P052"), 2.0, False, "health_coverage", False,
         ("My employer plan ends next month and I need health cover.",
          "Our medical bills have been high this year; I'd like better coverage."),
         ("Medical bills piling up again. Insurance barely covers anything",
          "Need a health plan that actually covers my specialist visits"),
         {"medical": 35, "pharmacy": 20}, 0, None),
    Need("home_renovation", ("P028", "P022", "P043"), 2.0, True, "home_renovation", False,
         ("We're redoing our kitchen this year.",
          "Our roof needs replacing and we want to add a bathroom."),
         ("Kitchen demo day!! Renovation has officially begun",
          "Contractor quotes are wild. How are people paying for renovations?"),
         {"home_improvement": 50, "shopping": 7}, 6, (15000, 80000)),
    Need("starting_business", ("P008", "P024", "P016", "P037"), 1.5, False, "starting_business", False,
         ("I'm launching my own bakery next year.",
          "I'm leaving my job to start a consulting business.",
          "Starting an online store on the side."),
         ("Officially an LLC! Launching my own business next month",
          "Side hustle is turning into a real business. Need a business account"),
         {"business_supplies": 40}, 6, (10000, 100000)),
    Need("wedding", ("P005", "P018"), 1.2, True, "wedding", True,
         ("We're getting married next summer.",
          "Saving for our wedding in the fall."),
         ("She said yes!! Wedding planning mode activated",
          "Venue deposits are due and the wedding budget is already blown"),
         {"wedding": 20, "shopping": 7}, 6, (15000, 45000)),
    Need("investing", ("P030", "P031", "P033", "P035"), 2.2, False, "investing", False,
         ("I have savings sitting idle and want to start investing.",
          "I want to build long-term wealth beyond my savings account."),
         ("Finally have some savings. Index funds or individual stocks?",
          "Cash is losing value sitting in checking, time to invest"),
         {"travel": 5, "dining": 5}, 0, (10000, 100000)),
    Need("pet_care", ("P045",), 1.3, True, "pets", False,
         ("Our dog's vet bills keep going up.",),
         ("Another vet visit for the pup, $600 later...", "Is pet insurance worth it? Asking for my cat"),
         {"pets": 30}, 0, None),
    Need("elder_care", ("P046", "P053"), 1.5, False, "elder_care", False,
         ("I'm helping pay for my mother's home care.",
          "My father may need assisted living soon."),
         ("Looking into assisted living for my mom. The costs are overwhelming",
          "Caring for my dad full time now. Any advice on long-term care costs?"),
         {"senior_care": 25, "pharmacy": 7}, 0, (20000, 80000)),
    Need("student_loan_refi", ("P023",), 1.6, False, "student_loans", False,
         ("I want to pay off my student loans sooner.",
          "My student loan rate is over 7% and I want it lower."),
         ("Student loan payment just hit again. Is refinancing worth it?",
          "Still paying off grad school. Any tips to lower the rate?"),
         {}, 0, (20000, 90000)),
    Need("emergency_savings", ("P004", "P007", "P006"), 1.8, False, "saving_money", False,
         ("I want to build an emergency fund of three months of expenses.",
          "I'd like my savings to earn more than they do in checking."),
         ("Why is my savings account paying 0.01%? Need a better place for my cash",
          "Building an emergency fund this year, where should I keep it?"),
         {}, 0, (5000, 30000)),
)

NEED_BY_NAME = {need.name: need for need in NEEDS}

# Number of hidden needs a customer has: 0, 1, 2 or 3.
NEED_COUNT_WEIGHTS = (22, 40, 28, 10)


def _eligibility() -> dict[str, Callable]:
    """Need name -> predicate over (person, home): who can plausibly have the need."""
    return {
        "travel_rewards_card": lambda p, h: p.income >= 45_000 and 25 <= p.age <= 72,
        "cashback_card": lambda p, h: p.income >= 25_000 and p.age >= 21,
        "first_home": lambda p, h: not h.owner and not p.with_parents and 24 <= p.age <= 45
        and p.income >= 40_000,
        "new_baby": lambda p, h: 24 <= p.age <= 42 and p.marital in ("married", "partnered")
        and len(h.kid_ages) <= 2,
        "retirement": lambda p, h: 58 <= p.age <= 66,
        "education_savings": lambda p, h: any(age <= 14 for age in h.kid_ages) and p.age >= 22,
        "debt_consolidation": lambda p, h: 23 <= p.age <= 60 and 25_000 <= p.income <= 120_000,
        "car_purchase": lambda p, h: 20 <= p.age <= 70 and p.income >= 25_000,
        "health_coverage": lambda p, h: 26 <= p.age <= 80,
        "home_renovation": lambda p, h: h.owner and 30 <= p.age <= 75 and p.income >= 40_000,
        "starting_business": lambda p, h: 24 <= p.age <= 58 and p.occupation.sector not in (
            "campus", "pension", "none") and p.income >= 30_000,
        "wedding": lambda p, h: 23 <= p.age <= 42 and p.marital in ("single", "partnered"),
        "investing": lambda p, h: p.income >= 85_000 and 25 <= p.age <= 60,
        "pet_care": lambda p, h: h.pet,
        "elder_care": lambda p, h: p.elderly_parent and 40 <= p.age <= 68,
        "student_loan_refi": lambda p, h: 23 <= p.age <= 36 and p.occupation.degree and p.income >= 40_000,
        "emergency_savings": lambda p, h: p.income >= 30_000 and p.age >= 21,
    }


ELIGIBLE = _eligibility()


def draw_needs(rng, person, home) -> list[str]:
    """Pick 0-3 needs the person is eligible for, weighted by each need's prior."""
    wanted = rng.choices(range(len(NEED_COUNT_WEIGHTS)), weights=NEED_COUNT_WEIGHTS)[0]
    pool = [need for need in NEEDS if ELIGIBLE[need.name](person, home)]
    chosen: list[str] = []
    while pool and len(chosen) < wanted:
        need = rng.choices(pool, weights=[n.weight for n in pool])[0]
        chosen.append(need.name)
        pool.remove(need)
    return chosen
