"""The bank's product catalogue and healthcare services: fixed text, the same for every seed.

Terms follow `retrieval.records.ProductTerms`: rates are fractions. A card's
`rewards` maps a transaction category to points earned per dollar divided by
100 (0.03 = 3 points per dollar) and `point_value` is what one point is worth
in dollars, so a year's rewards are worth `spend * rate * point_value * 100`.
Cash-back cards use `point_value` 0.01, which makes the rate plain cash back.
"""

from __future__ import annotations

from retrieval.records import Eligibility, HealthcareService, Product, ProductTerms

LOW, MEDIUM, HIGH = "low", "medium", "high"


def _product(
    product_id: str,
    name: str,
    category: str,
    description: str,
    needs: list[str],
    segments: list[str],
    terms: dict | None = None,
    eligibility: dict | None = None,
) -> Product:
    return Product(
        product_id=product_id,
        name=name,
        category=category,
        description=description,
        need_statements=needs,
        terms=ProductTerms(**(terms or {})),
        eligibility=Eligibility(**(eligibility or {})),
        target_segments=segments,
    )


def _deposits() -> list[Product]:
    return [
        _product(
            "P001", "Everyday Checking", "deposit",
            "A checking account for daily spending with a debit card, mobile deposits, bill pay and Zelle-style "
            "transfers. The $5 monthly fee is waived with a $1,500 minimum daily balance or any direct deposit.",
            ["I need an account for my paycheck and everyday spending", "I want to pay bills online"],
            ["everyday_spenders", "young_professionals", "families"],
            {"monthly_fee": 5, "min_balance": 1500},
            {"min_age": 18, "requires_verified_kyc": True},
        ),
        _product(
            "P002", "Student Checking", "deposit",
            "Checking with no monthly fee and no minimum balance for students aged 17 to 25, with overdraft "
            "protection linked to savings and a free debit card.",
            ["I'm a student and can't pay monthly fees", "my first bank account"],
            ["students"],
            {"monthly_fee": 0},
            {"min_age": 17, "max_age": 25},
        ),
        _product(
            "P003", "Premier Checking", "deposit",
            "Interest-bearing checking with a dedicated relationship manager, free wires, ATM fee refunds "
            "worldwide and no foreign transaction fees. The $25 monthly fee is waived with $25,000 in combined "
            "balances.",
            ["I keep large balances and want them to earn something", "I want a personal banker"],
            ["high_net_worth", "frequent_travelers"],
            {"apy": 0.001, "monthly_fee": 25, "min_balance": 25000},
            {"min_age": 18, "min_income": 100000},
        ),
        _product(
            "P004", "High-Yield Savings", "deposit",
            "An online savings account earning 4.20% APY on every dollar, with no monthly fee and up to six "
            "free transfers a month. A good home for an emergency fund.",
            ["I want my savings to earn more interest", "I need an emergency fund"],
            ["everyday_spenders", "young_professionals", "families", "retirees"],
            {"apy": 0.042},
            {"min_age": 18},
        ),
        _product(
            "P005", "Goal Saver Account", "deposit",
            "A savings account built around a goal such as a down payment or a wedding: name the goal, set a "
            "target date and an automatic monthly transfer, and earn 3.50% APY plus a 0.25% bonus when you reach it.",
            ["I'm saving for a down payment", "I'm saving for my wedding", "help me save toward a goal"],
            ["homebuyers", "young_professionals", "families"],
            {"apy": 0.035},
            {"min_age": 18},
        ),
        _product(
            "P006", "12-Month Certificate of Deposit", "deposit",
            "Lock in 4.50% APY for 12 months with a $1,000 minimum deposit. Early withdrawal costs 90 days of "
            "interest.",
            ["I have cash I won't need for a year", "I want a guaranteed rate"],
            ["retirees", "pre_retirees", "high_net_worth"],
            {"apy": 0.045, "min_balance": 1000, "term_months": 12},
            {"min_age": 18},
        ),
        _product(
            "P007", "Money Market Account", "deposit",
            "Tiered interest up to 3.80% APY with check-writing and a debit card, for balances from $2,500.",
            ["I want interest but still need access to my money", "somewhere to park a large balance"],
            ["high_net_worth", "retirees", "families"],
            {"apy": 0.038, "min_balance": 2500},
            {"min_age": 18},
        ),
        _product(
            "P008", "Small Business Checking", "deposit",
            "Checking for sole proprietors and small companies: 200 free transactions a month, free incoming "
            "wires, invoicing and payroll integrations. $15 monthly fee waived with a $5,000 average balance.",
            ["I'm starting a business and need to separate my finances", "business account for my LLC"],
            ["small_business"],
            {"monthly_fee": 15, "min_balance": 5000},
            {"min_age": 18},
        ),
        _product(
            "P009", "Senior Advantage Checking", "deposit",
            "Fee-free checking for customers 60 and over with free checks, interest on balances and "
            "direct deposit of Social Security and pensions.",
            ["I'm retired and want a checking account without fees", "somewhere for my pension deposits"],
            ["retirees"],
            {"apy": 0.0025},
            {"min_age": 60},
        ),
    ]


def _cards() -> list[Product]:
    return [
        _product(
            "P010", "Voyager Travel Rewards Card", "card",
            "Earn 3 points per dollar on flights, hotels and rental cars, 2 points on dining and 1 point on "
            "everything else. Points are worth 1.25 cents toward travel. No foreign transaction fees, trip "
            "delay insurance, and a $95 annual fee.",
            ["I travel a lot and want rewards", "a card with no foreign transaction fees", "earn miles on flights"],
            ["frequent_travelers", "young_professionals", "high_net_worth"],
            {"apr": 0.2249, "annual_fee": 95, "rewards": {"travel": 0.03, "dining": 0.02},
             "base_reward_rate": 0.01, "point_value": 0.0125, "max_amount": 25000},
            {"min_age": 21, "min_income": 45000},
        ),
        _product(
            "P011", "Everyday Cash Back Card", "card",
            "3% cash back at grocery stores, 2% on fuel and dining, and 1% on everything else, with no "
            "annual fee. Cash back is deposited to your account monthly.",
            ["I want cash back on groceries", "a no-fee card for everyday spending"],
            ["families", "everyday_spenders"],
            {"apr": 0.2149, "rewards": {"groceries": 0.03, "fuel": 0.02, "dining": 0.02},
             "base_reward_rate": 0.01, "point_value": 0.01, "max_amount": 15000},
            {"min_age": 18, "min_income": 20000},
        ),
        _product(
            "P012", "Flat 2% Cash Card", "card",
            "Unlimited 2% cash back on every purchase with no categories to track and no annual fee.",
            ["simple cash back on everything", "I don't want to track bonus categories"],
            ["everyday_spenders", "young_professionals"],
            {"apr": 0.2299, "base_reward_rate": 0.02, "point_value": 0.01, "max_amount": 20000},
            {"min_age": 21, "min_income": 35000},
        ),
        _product(
            "P013", "Balance Transfer Card", "card",
            "0% intro APR on balance transfers and purchases for 18 months, then 19.99% variable. 3% transfer "
            "fee. Move high-interest card debt here and pay it down faster.",
            ["I have credit card debt at a high rate", "I want to transfer my balance and pay less interest"],
            ["everyday_spenders", "credit_builders"],
            {"apr": 0.1999, "max_amount": 12000, "term_months": 18},
            {"min_age": 21, "min_income": 30000},
        ),
        _product(
            "P014", "Student Starter Card", "card",
            "A first credit card for students with a $1,000 limit, 1% cash back, no annual fee and free "
            "credit score tracking.",
            ["I want to start building credit in college", "my first credit card"],
            ["students", "credit_builders"],
            {"apr": 0.2399, "base_reward_rate": 0.01, "point_value": 0.01, "max_amount": 1000},
            {"min_age": 18, "max_age": 25},
        ),
        _product(
            "P015", "Secured Credit Builder Card", "card",
            "Build or rebuild credit with a refundable $300 to $3,000 deposit that sets your limit. Reviewed "
            "for an unsecured upgrade after 8 months of on-time payments.",
            ["I need to rebuild my credit", "I was turned down for a credit card"],
            ["credit_builders"],
            {"apr": 0.2499, "max_amount": 3000},
            {"min_age": 18, "requires_verified_kyc": True},
        ),
        _product(
            "P016", "Business Rewards Card", "card",
            "3% back on office supplies, software and advertising, 2% on fuel and 1% elsewhere, with free "
            "employee cards and spending controls. No annual fee the first year, then $95.",
            ["I need a card for business expenses", "rewards on my company's spending"],
            ["small_business"],
            {"apr": 0.2099, "annual_fee": 95, "rewards": {"business_supplies": 0.03, "fuel": 0.02},
             "base_reward_rate": 0.01, "point_value": 0.01, "max_amount": 30000},
            {"min_age": 21, "min_income": 30000},
        ),
        _product(
            "P017", "Dining & Entertainment Card", "card",
            "4% cash back on restaurants, streaming and entertainment, 2% at grocery stores, 1% on "
            "everything else; $0 annual fee the first year, then $39.",
            ["I eat out a lot", "cash back on concerts and streaming"],
            ["young_professionals", "everyday_spenders"],
            {"apr": 0.2249, "annual_fee": 39, "rewards": {"dining": 0.04, "entertainment": 0.04, "groceries": 0.02},
             "base_reward_rate": 0.01, "point_value": 0.01, "max_amount": 15000},
            {"min_age": 21, "min_income": 30000},
        ),
    ]


def _loans() -> list[Product]:
    return [
        _product(
            "P018", "Personal Loan", "loan",
            "Fixed-rate personal loans from $2,000 to $40,000 over 24 to 60 months, rates from 10.99% APR, "
            "no origination fee and funds as soon as the next business day.",
            ["I need to borrow for a big expense", "a loan to pay for my wedding"],
            ["everyday_spenders", "young_professionals"],
            {"apr": 0.1099, "max_amount": 40000, "term_months": 60},
            {"min_age": 18, "min_income": 25000},
        ),
        _product(
            "P019", "Debt Consolidation Loan", "loan",
            "Combine credit cards and other debts into one fixed monthly payment from 9.99% APR, up to "
            "$50,000 over 36 to 72 months; we can pay your other lenders directly.",
            ["I have several debts and want one payment", "lower the interest on my credit card debt"],
            ["everyday_spenders", "credit_builders"],
            {"apr": 0.0999, "max_amount": 50000, "term_months": 72},
            {"min_age": 21, "min_income": 30000},
        ),
        _product(
            "P020", "New Auto Loan", "loan",
            "Finance a new car with rates from 6.49% APR for up to 72 months and up to $80,000, with "
            "pre-approval in minutes so you can shop like a cash buyer.",
            ["I'm buying a new car", "car financing"],
            ["families", "young_professionals"],
            {"apr": 0.0649, "max_amount": 80000, "term_months": 72},
            {"min_age": 18, "min_income": 25000},
        ),
        _product(
            "P021", "Used Auto Loan & Refinance", "loan",
            "Loans for used cars up to 10 years old, or refinance your current car loan, from 7.24% APR "
            "for up to 60 months.",
            ["I want to buy a used car", "refinance my car loan to a lower rate"],
            ["everyday_spenders", "students"],
            {"apr": 0.0724, "max_amount": 50000, "term_months": 60},
            {"min_age": 18, "min_income": 20000},
        ),
        _product(
            "P022", "Home Improvement Loan", "loan",
            "Unsecured loans up to $100,000 for renovations, from 8.99% APR over up to 84 months, with no "
            "home equity required and no appraisal.",
            ["I'm renovating my kitchen", "pay for home repairs"],
            ["homeowners"],
            {"apr": 0.0899, "max_amount": 100000, "term_months": 84},
            {"min_age": 21, "min_income": 40000},
        ),
        _product(
            "P023", "Student Loan Refinance", "loan",
            "Refinance federal and private student loans into one loan from 5.49% APR over 5 to 20 years. "
            "No application or origination fees.",
            ["my student loan rate is too high", "combine my student loans"],
            ["young_professionals"],
            {"apr": 0.0549, "max_amount": 250000, "term_months": 240},
            {"min_age": 21, "min_income": 40000},
        ),
        _product(
            "P024", "Small Business Loan", "loan",
            "Term loans and lines of credit from $10,000 to $250,000 for equipment, inventory or working "
            "capital, from 9.25% APR, with decisions in two business days.",
            ["I need funding to start my business", "working capital for my company"],
            ["small_business"],
            {"apr": 0.0925, "max_amount": 250000, "term_months": 120},
            {"min_age": 21, "min_income": 30000},
        ),
    ]


def _mortgages() -> list[Product]:
    return [
        _product(
            "P025", "30-Year Fixed Mortgage", "mortgage",
            "The same principal and interest payment for 30 years, from 6.75% APR, for purchases and "
            "refinances up to $1.5 million, with down payments from 5%.",
            ["I'm buying a house and want a predictable payment", "refinance my mortgage"],
            ["homebuyers", "families"],
            {"apr": 0.0675, "max_amount": 1500000, "term_months": 360},
            {"min_age": 18, "min_income": 40000},
        ),
        _product(
            "P026", "15-Year Fixed Mortgage", "mortgage",
            "Pay off your home in half the time with a lower rate, from 6.10% APR; higher monthly payments, "
            "far less interest over the loan.",
            ["I want to pay off my house faster", "a lower mortgage rate"],
            ["homeowners", "high_net_worth"],
            {"apr": 0.061, "max_amount": 1500000, "term_months": 180},
            {"min_age": 18, "min_income": 70000},
        ),
        _product(
            "P027", "First-Time Homebuyer Mortgage", "mortgage",
            "A 30-year fixed mortgage for first-time buyers with 3% down, up to $7,500 in closing-cost "
            "assistance and a free homebuyer education course, from 6.50% APR.",
            ["I'm buying my first home", "I don't have 20% for a down payment"],
            ["homebuyers", "young_professionals"],
            {"apr": 0.065, "max_amount": 766550, "term_months": 360},
            {"min_age": 18, "min_income": 35000},
        ),
        _product(
            "P028", "Home Equity Line of Credit", "mortgage",
            "A HELOC: borrow against your home's equity up to 85% of its value, from 8.25% variable APR, with a "
            "10-year draw period. Interest may be tax-deductible for home improvements.",
            ["I want to tap my home equity for a renovation", "a flexible line of credit for big projects"],
            ["homeowners"],
            {"apr": 0.0825, "max_amount": 500000, "term_months": 120},
            {"min_age": 21, "min_income": 40000},
        ),
        _product(
            "P029", "7/1 Adjustable-Rate Mortgage", "mortgage",
            "A rate fixed for the first 7 years from 6.05% APR that then adjusts yearly; a lower starting "
            "payment for buyers who expect to move or refinance.",
            ["I want the lowest starting payment", "I'll probably move in a few years"],
            ["homebuyers", "young_professionals"],
            {"apr": 0.0605, "max_amount": 1500000, "term_months": 360},
            {"min_age": 18, "min_income": 60000},
        ),
    ]


def _investments() -> list[Product]:
    return [
        _product(
            "P030", "Managed Growth Portfolio", "investment",
            "A diversified portfolio of low-cost index funds chosen and rebalanced for you, for a 0.35% "
            "annual advisory fee, from a $500 minimum.",
            ["I want to invest but don't know where to start", "grow my money over the long term"],
            ["young_professionals", "high_net_worth", "families"],
            {"min_balance": 500},
            {"min_age": 18, "min_income": 30000, "risk_appetite": [MEDIUM, HIGH]},
        ),
        _product(
            "P031", "Self-Directed Brokerage", "investment",
            "Trade stocks, ETFs and options with $0 commissions on online stock and ETF trades, research "
            "tools and fractional shares.",
            ["I want to pick my own stocks", "commission-free trading"],
            ["high_net_worth", "young_professionals"],
            {},
            {"min_age": 18, "risk_appetite": [HIGH]},
        ),
        _product(
            "P032", "Conservative Income Portfolio", "investment",
            "A bond-heavy portfolio aiming for steady income with lower swings, for a 0.30% annual fee and "
            "a $1,000 minimum.",
            ["I want income without much risk", "protect what I have saved"],
            ["retirees", "pre_retirees"],
            {"min_balance": 1000},
            {"min_age": 18, "risk_appetite": [LOW, MEDIUM]},
        ),
        _product(
            "P033", "Sustainable ESG Portfolio", "investment",
            "A managed portfolio of funds screened for environmental, social and governance criteria, "
            "0.40% annual fee, $500 minimum.",
            ["I want my investments to match my values", "green investing"],
            ["young_professionals", "high_net_worth"],
            {"min_balance": 500},
            {"min_age": 18, "min_income": 30000, "risk_appetite": [MEDIUM, HIGH]},
        ),
    ]


def _retirement() -> list[Product]:
    return [
        _product(
            "P034", "Traditional IRA", "retirement",
            "Tax-deductible contributions up to the yearly IRS limit ($7,000, or $8,000 from age 50) that "
            "grow tax-deferred until retirement. Invest in funds, CDs or a managed portfolio.",
            ["I want to save for retirement and lower my taxes", "roll over my old 401(k)"],
            ["pre_retirees", "young_professionals", "families"],
            {"max_amount": 7000},
            {"min_age": 18, "min_income": 1},
        ),
        _product(
            "P035", "Roth IRA", "retirement",
            "Contribute after-tax dollars, up to $7,000 a year, and withdraw tax-free in retirement. Income "
            "limits apply to contributions.",
            ["tax-free income in retirement", "I'm young and want to start saving for retirement"],
            ["young_professionals", "families"],
            {"max_amount": 7000},
            {"min_age": 18, "min_income": 1},
        ),
        _product(
            "P036", "Retirement Income Planner", "retirement",
            "A fixed annuity and planning service that turns savings into guaranteed monthly income for "
            "life, with a free consultation with a retirement specialist. Guaranteed 5.10% for the first 5 years.",
            ["I'm retiring soon and want guaranteed income", "make my savings last through retirement"],
            ["pre_retirees", "retirees"],
            {"apy": 0.051, "min_balance": 25000, "term_months": 60},
            {"min_age": 50, "max_age": 85},
        ),
        _product(
            "P037", "Solo 401(k)", "retirement",
            "A 401(k) for the self-employed and business owners with no employees: contribute as both "
            "employee and employer, up to $69,000 a year.",
            ["I'm self-employed and want to save for retirement", "a retirement plan for my business"],
            ["small_business"],
            {"max_amount": 69000, "employer_match": 0.25},
            {"min_age": 18, "min_income": 20000},
        ),
    ]


def _education() -> list[Product]:
    return [
        _product(
            "P038", "529 College Savings Plan", "education_savings",
            "Save for a child's college or K-12 tuition with tax-free growth and tax-free withdrawals for "
            "qualified education expenses; start with $25 and automate monthly contributions.",
            ["I want to save for my kids' college", "tax-free education savings"],
            ["families", "new_parents"],
            {"min_balance": 25},
            {"min_age": 18},
        ),
        _product(
            "P039", "Coverdell Education Savings Account", "education_savings",
            "Up to $2,000 a year per child, growing tax-free for school and college costs, with a wide "
            "choice of investments.",
            ["save for private school tuition", "education savings for my grandchildren"],
            ["families", "retirees"],
            {"max_amount": 2000},
            {"min_age": 18},
        ),
        _product(
            "P040", "Future Scholar Custodial Account", "education_savings",
            "A custodial (UTMA) savings and investment account in a child's name, managed by a parent or "
            "grandparent until the child comes of age, earning 3.00% APY on cash.",
            ["open an account for my child", "gift money to my grandchildren"],
            ["families", "new_parents", "retirees"],
            {"apy": 0.03},
            {"min_age": 18},
        ),
    ]


def _insurance() -> list[Product]:
    return [
        _product(
            "P041", "Term Life Insurance", "insurance",
            "20-year level term life coverage from $100,000 to $2 million; a healthy 35-year-old can get "
            "$500,000 of cover from about $28 a month. Online application, no exam for most applicants under 50.",
            ["protect my family if something happens to me", "life insurance for new parents"],
            ["families", "new_parents", "homebuyers"],
            {"coverage": 500000, "premium_monthly": 28, "term_months": 240},
            {"min_age": 18, "max_age": 65},
        ),
        _product(
            "P042", "Whole Life Insurance", "insurance",
            "Permanent life cover with level premiums and a cash value that grows at a guaranteed rate.",
            ["lifelong life insurance", "leave something to my children"],
            ["high_net_worth", "pre_retirees"],
            {"coverage": 250000, "premium_monthly": 210},
            {"min_age": 18, "max_age": 75, "min_income": 60000},
        ),
        _product(
            "P043", "Homeowners Insurance", "insurance",
            "Covers your home, belongings and liability, with a 10% discount when your mortgage is with us "
            "and a claims team available around the clock.",
            ["insurance for my new house", "my mortgage requires home insurance"],
            ["homeowners", "homebuyers"],
            {"coverage": 400000, "premium_monthly": 125},
            {"min_age": 18},
        ),
        _product(
            "P044", "Auto Insurance", "insurance",
            "Liability, collision and comprehensive cover with accident forgiveness and a safe-driver discount.",
            ["insurance for my new car", "cheaper car insurance"],
            ["families", "everyday_spenders"],
            {"coverage": 100000, "premium_monthly": 135},
            {"min_age": 16},
        ),
        _product(
            "P045", "Pet Insurance", "insurance",
            "Covers accidents, illnesses and emergency care for dogs and cats at any licensed vet, with 90% "
            "reimbursement after the deductible; from $24 a month.",
            ["my dog's vet bills are expensive", "insurance for my cat"],
            ["pet_owners"],
            {"coverage": 10000, "premium_monthly": 24},
            {"min_age": 18, "requires_verified_kyc": False},
        ),
        _product(
            "P046", "Long-Term Care Insurance", "insurance",
            "Helps pay for in-home care, assisted living or a nursing home, up to $6,000 a month, for you "
            "or a parent you care for.",
            ["I'm worried about paying for my mother's care", "plan for long-term care costs"],
            ["pre_retirees", "retirees", "caregivers"],
            {"coverage": 216000, "premium_monthly": 165},
            {"min_age": 40, "max_age": 79},
        ),
        _product(
            "P047", "Travel Insurance Plus", "insurance",
            "Annual multi-trip cover for trip cancellation, medical emergencies abroad and lost luggage, "
            "from $19 a month for individuals.",
            ["insurance for my trips abroad", "cover if I have to cancel a trip"],
            ["frequent_travelers"],
            {"coverage": 50000, "premium_monthly": 19},
            {"min_age": 18, "requires_verified_kyc": False},
        ),
        _product(
            "P048", "Renters Insurance", "insurance",
            "Protects your belongings and covers liability for about $15 a month, wherever you rent.",
            ["insurance for my apartment", "protect my stuff in my rental"],
            ["young_professionals", "students"],
            {"coverage": 30000, "premium_monthly": 15},
            {"min_age": 18, "requires_verified_kyc": False},
        ),
    ]


def _healthcare() -> list[Product]:
    return [
        _product(
            "P049", "Health Saver HSA", "healthcare",
            "A Health Savings Account that pairs with a high-deductible plan: contributions are tax-deductible, "
            "growth is tax-free, and withdrawals for medical costs are tax-free. Earns 2.50% APY on cash and can be "
            "invested.",
            ["pay for medical bills with pre-tax money", "I have a high-deductible health plan"],
            ["families", "young_professionals", "pre_retirees"],
            {"apy": 0.025, "max_amount": 8300},
            {"min_age": 18, "max_age": 64},
        ),
        _product(
            "P050", "Family Health Plan PPO", "healthcare",
            "A PPO health plan covering the whole family with a $1,500 family deductible, $30 doctor visits, "
            "free preventive and pediatric care, and maternity cover, through our partner insurer.",
            ["health insurance for my family", "cover for my pregnancy and the baby"],
            ["families", "new_parents"],
            {"coverage": 2000000, "premium_monthly": 1450},
            {"min_age": 18, "max_age": 64},
        ),
        _product(
            "P051", "Individual Bronze HDHP", "healthcare",
            "A high-deductible individual health plan with a low premium, a $3,200 deductible and free "
            "preventive care; HSA-eligible.",
            ["cheap health insurance for myself", "I lost my employer's health plan"],
            ["young_professionals", "small_business"],
            {"coverage": 1000000, "premium_monthly": 310},
            {"min_age": 18, "max_age": 64},
        ),
        _product(
            "P052", "Medicare Supplement Plan G", "healthcare",
            "Covers what Original Medicare leaves behind: Part A deductible, coinsurance and excess charges, "
            "with any doctor who accepts Medicare.",
            ["I'm turning 65 and need a Medicare supplement", "cover my Medicare gaps"],
            ["retirees"],
            {"premium_monthly": 165},
            {"min_age": 65},
        ),
        _product(
            "P053", "Medical Expense Financing", "healthcare",
            "Spread the cost of procedures, dental work or hospital bills from $500 to $25,000 over up to "
            "24 months at 0% APR if paid in full, otherwise 14.99% APR.",
            ["I can't pay my hospital bill all at once", "finance a dental procedure"],
            ["families", "everyday_spenders"],
            {"apr": 0.1499, "max_amount": 25000, "term_months": 24},
            {"min_age": 18, "min_income": 15000},
        ),
        _product(
            "P054", "Dental & Vision Plus", "healthcare",
            "Dental cleanings, fillings and an annual eye exam plus $200 toward glasses or contacts, from "
            "$32 a month per person.",
            ["dental insurance", "my kids need glasses"],
            ["families", "retirees"],
            {"premium_monthly": 32, "coverage": 2500},
            {"min_age": 0, "requires_verified_kyc": False},
        ),
        _product(
            "P055", "Maternity & Newborn Care Plan", "healthcare",
            "Financing for birth and newborn costs up to $15,000 at 0% APR for 12 months, with a free "
            "session with our family finance coach and a $100 deposit into a new 529 plan.",
            ["we're having a baby and want to plan for the costs", "pay for the hospital bill after the birth"],
            ["new_parents", "families"],
            {"apr": 0.0, "max_amount": 15000, "term_months": 12},
            {"min_age": 18, "min_income": 15000},
        ),
    ]


def products() -> list[Product]:
    """The full catalogue in id order."""
    return [*_deposits(), *_cards(), *_loans(), *_mortgages(), *_investments(),
            *_retirement(), *_education(), *_insurance(), *_healthcare()]


_PROGRAMMES = (
    ("health_plan", "Family Health Plan PPO",
     "Family PPO through our partner insurer: $1,500 family deductible, $30 visits, pediatric and maternity care.",
     "P050"),
    ("health_plan", "Individual Bronze HDHP",
     "Low-premium high-deductible plan for individuals, HSA-eligible, with free preventive care.", "P051"),
    ("health_plan", "Medicare Supplement Plan G",
     "Medigap Plan G for customers 65 and over, covering Original Medicare's gaps.", "P052"),
    ("health_plan", "Dental & Vision Plus",
     "Dental cleanings and fillings, annual eye exams and a frame allowance.", "P054"),
    ("health_plan", "Partner Telehealth Membership",
     "Unlimited 24/7 video visits with board-certified doctors for $12 a month, free with any Fargo health plan.",
     None),
    ("hsa", "Health Saver HSA",
     "Triple-tax-advantaged savings for medical costs; pairs with the Individual Bronze HDHP.", "P049"),
    ("medical_financing", "Medical Expense Financing",
     "0% APR for up to 24 months on procedures and bills paid in full in time; accepted at all partner providers.",
     "P053"),
    ("medical_financing", "Maternity & Newborn Care Plan",
     "0% financing for birth and newborn care costs up to $15,000 over 12 months.", "P055"),
)

# (name, city, specialty)
_PROVIDERS = (
    ("Hudson Family Medicine", "New York", "family_medicine"),
    ("Midtown Women's Health", "New York", "obstetrics"),
    ("Pacific Pediatrics", "Los Angeles", "pediatrics"),
    ("Sunset Heart Institute", "Los Angeles", "cardiology"),
    ("Lakeshore Orthopedics", "Chicago", "orthopedics"),
    ("Windy City Dental", "Chicago", "dentistry"),
    ("Bayou Senior Care Clinic", "Houston", "geriatrics"),
    ("Houston Children's Partners", "Houston", "pediatrics"),
    ("Desert Sky Dermatology", "Phoenix", "dermatology"),
    ("Liberty Eye Associates", "Philadelphia", "ophthalmology"),
    ("Alamo Family Health", "San Antonio", "family_medicine"),
    ("Harbor Mental Health", "San Diego", "mental_health"),
    ("Coastal Physical Therapy", "San Diego", "physical_therapy"),
    ("Trinity Birth Center", "Dallas", "obstetrics"),
    ("Lone Star Cardiology", "Dallas", "cardiology"),
    ("Capitol Pediatrics", "Austin", "pediatrics"),
    ("Hill Country Dental", "Austin", "dentistry"),
    ("Puget Sound Primary Care", "Seattle", "family_medicine"),
    ("Emerald City Orthopedics", "Seattle", "orthopedics"),
    ("Rocky Mountain Geriatrics", "Denver", "geriatrics"),
    ("Back Bay Fertility & Obstetrics", "Boston", "obstetrics"),
    ("Beacon Hill Cardiology", "Boston", "cardiology"),
    ("Peachtree Family Practice", "Atlanta", "family_medicine"),
    ("Biscayne Dental Studio", "Miami", "dentistry"),
    ("Coral Gables Senior Health", "Miami", "geriatrics"),
    ("North Star Pediatrics", "Minneapolis", "pediatrics"),
    ("Rose City Counseling", "Portland", "mental_health"),
    ("Music City Orthopedics", "Nashville", "orthopedics"),
    ("Queen City Eye Care", "Charlotte", "ophthalmology"),
    ("Buckeye Physical Therapy", "Columbus", "physical_therapy"),
)

_SPECIALTY_TEXT = {
    "family_medicine": "primary care for all ages, check-ups, vaccinations and chronic-condition management",
    "obstetrics": "prenatal care, delivery and postnatal care for mothers and newborns",
    "pediatrics": "care for infants, children and teens, including well-child visits and immunisations",
    "cardiology": "heart health: screenings, cardiac testing and treatment of heart conditions",
    "orthopedics": "bones, joints and sports injuries, including joint replacement",
    "dentistry": "cleanings, fillings, crowns and orthodontics",
    "geriatrics": "care for older adults, memory care assessments and medication reviews",
    "dermatology": "skin checks, acne, eczema and skin cancer screening",
    "ophthalmology": "eye exams, cataract surgery and glaucoma care",
    "mental_health": "counselling, therapy and psychiatric care, in person and by video",
    "physical_therapy": "rehabilitation after surgery or injury and chronic pain programmes",
}


def healthcare_services() -> list[HealthcareService]:
    """Health plans, the HSA, medical financing and partner providers."""
    by_id = {product.product_id: product for product in products()}
    services = []
    for number, (kind, name, description, product_id) in enumerate(_PROGRAMMES, start=1):
        product = by_id.get(product_id) if product_id else None
        services.append(
            HealthcareService(
                service_id=f"S{number:03d}", kind=kind, name=name, description=description,
                product_id=product_id,
                terms=product.terms if product else ProductTerms(premium_monthly=12),
                eligibility=product.eligibility if product else Eligibility(requires_verified_kyc=False),
            )
        )
    for number, (name, city, specialty) in enumerate(_PROVIDERS, start=len(services) + 1):
        services.append(
            HealthcareService(
                service_id=f"S{number:03d}", kind="provider", name=name, city=city, specialty=specialty,
                description=f"Partner provider in {city}: {_SPECIALTY_TEXT[specialty]}. Accepts all Fargo "
                "health plans and Medical Expense Financing.",
                eligibility=Eligibility(requires_verified_kyc=False),
            )
        )
    return services
