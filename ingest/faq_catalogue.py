"""The bank's FAQ: fixed text about products and everyday banking, the same for every seed.

Hand-written answers for common questions, plus one question per product
phrased from its catalogue entry, so every product can be found by search.
"""

from __future__ import annotations

from ingest.catalogue import products
from retrieval.records import FaqDocument, Product

# (question, answer, category, product ids)
_WRITTEN = (
    ("How do I open a checking account?",
     "Apply online or in the app in about ten minutes with a government photo ID and your Social Security "
     "number. Everyday Checking has a $5 monthly fee that is waived with a $1,500 daily balance or any direct "
     "deposit; students aged 17 to 25 can choose Student Checking with no monthly fee.",
     "accounts", ["P001", "P002"]),
    ("What do I need to bring to verify my identity?",
     "A valid driver's license, state ID or passport, plus proof of address such as a utility bill or bank "
     "statement dated in the last 90 days. Some products cannot be opened until your identity is verified.",
     "accounts", []),
    ("Why is my ID verification still pending?",
     "Most documents are checked within one business day. Verification stays pending when a photo is blurry, "
     "the document has expired or the name does not match your application; upload a new image in the app "
     "under Profile > Documents.",
     "accounts", []),
    ("How can I avoid the monthly fee on Everyday Checking?",
     "Keep at least $1,500 as your daily balance, or receive any direct deposit during the statement cycle. "
     "Customers 60 and over can switch to Senior Advantage Checking, which has no monthly fee.",
     "fees", ["P001", "P009"]),
    ("Is there a checking account without fees for seniors?",
     "Yes. Senior Advantage Checking is free for customers aged 60 and over, pays interest on balances and "
     "includes free checks. Social Security and pension payments can be deposited directly.",
     "accounts", ["P009"]),
    ("What interest rate does the High-Yield Savings account pay?",
     "High-Yield Savings currently earns 4.20% APY on all balances with no monthly fee and no minimum. "
     "Rates are variable and may change.",
     "savings", ["P004"]),
    ("How much should I keep in an emergency fund?",
     "A common rule of thumb is three to six months of essential expenses. Keeping it in High-Yield Savings "
     "earns interest while staying available, and an automatic transfer on payday builds it without effort.",
     "savings", ["P004", "P007"]),
    ("Can I save for a specific goal like a house or a wedding?",
     "Open a Goal Saver Account, name your goal and a target date, and set an automatic monthly transfer. "
     "It earns 3.50% APY, plus a 0.25% bonus when you reach your goal.",
     "savings", ["P005"]),
    ("What happens if I withdraw from a CD early?",
     "Withdrawing principal from the 12-Month Certificate of Deposit before it matures costs 90 days of "
     "interest. Interest already paid can be withdrawn without penalty.",
     "savings", ["P006"]),
    ("What is the difference between a money market account and a savings account?",
     "A money market account pays tiered interest (up to 3.80% APY with us) and lets you write checks and use "
     "a debit card, but needs a $2,500 minimum. High-Yield Savings has no minimum and a higher rate, but no checks.",
     "savings", ["P007", "P004"]),
    ("Which credit card is best for travel?",
     "The Voyager Travel Rewards Card earns 3 points per dollar on flights, hotels and rental cars and 2 on "
     "dining, with points worth 1.25 cents toward travel and no foreign transaction fees. The annual fee is $95.",
     "cards", ["P010"]),
    ("Does the Voyager card charge foreign transaction fees?",
     "No. Purchases abroad carry no foreign transaction fee, and the card includes trip delay insurance when "
     "you pay for the trip with it.",
     "cards", ["P010"]),
    ("Which card gives cash back on groceries?",
     "The Everyday Cash Back Card pays 3% at grocery stores, 2% on fuel and dining and 1% on everything else, "
     "with no annual fee.",
     "cards", ["P011"]),
    ("I don't want to track categories. Is there a simple cash back card?",
     "The Flat 2% Cash Card pays an unlimited 2% on every purchase with no annual fee and nothing to activate.",
     "cards", ["P012"]),
    ("How does a balance transfer work?",
     "With the Balance Transfer Card you move balances from other cards and pay 0% intro APR for 18 months "
     "(a 3% fee applies to each transfer). After that the variable APR is 19.99%. Paying the balance off within "
     "the intro period avoids interest entirely.",
     "cards", ["P013"]),
    ("How can I build credit if I have none?",
     "Students can start with the Student Starter Card. Anyone can open the Secured Credit Builder Card with a "
     "refundable deposit of $300 to $3,000; after 8 months of on-time payments we review it for an upgrade.",
     "cards", ["P014", "P015"]),
    ("Is there a card that rewards eating out and concerts?",
     "The Dining & Entertainment Card pays 4% on restaurants, streaming and entertainment and 2% at grocery "
     "stores; the annual fee is $0 the first year and $39 after.",
     "cards", ["P017"]),
    ("What should I do if my card is lost or stolen?",
     "Lock the card instantly in the app, then report it by calling the number on our website, any time. "
     "You are not responsible for unauthorised purchases, and a replacement arrives in 3 to 5 business days.",
     "security", []),
    ("How do I dispute a charge?",
     "Open the transaction in the app and choose Dispute. Tell us what happened; we usually issue a provisional "
     "credit within 10 business days while we investigate with the merchant.",
     "cards", []),
    ("How is my credit limit decided?",
     "We look at your income, existing debts, credit history and your relationship with the bank. You can "
     "request an increase in the app after six months of on-time payments.",
     "cards", []),
    ("Can I consolidate my credit card debt into one payment?",
     "Yes. A Debt Consolidation Loan from 9.99% APR combines balances into one fixed monthly payment over 36 to "
     "72 months, and we can pay your other lenders directly. Compare it with the Balance Transfer Card if you "
     "can repay within 18 months.",
     "loans", ["P019", "P013"]),
    ("How much can I borrow with a personal loan?",
     "From $2,000 to $40,000, repaid over 24 to 60 months at a fixed rate from 10.99% APR, with no origination "
     "fee. Funds usually arrive the next business day.",
     "loans", ["P018"]),
    ("What rate can I get on a car loan?",
     "New cars from 6.49% APR for up to 72 months; used cars and refinances from 7.24% APR for up to 60 "
     "months. Get pre-approved before you visit the dealer.",
     "loans", ["P020", "P021"]),
    ("Can I refinance my student loans?",
     "Yes. Student Loan Refinance combines federal and private loans into one loan from 5.49% APR over 5 to 20 "
     "years. Refinancing federal loans gives up federal programmes such as income-driven repayment.",
     "loans", ["P023"]),
    ("How do I pay for a home renovation?",
     "Homeowners can borrow against their equity with a Home Equity Line of Credit from 8.25% variable APR, "
     "or take a Home Improvement Loan up to $100,000 without an appraisal.",
     "loans", ["P022", "P028"]),
    ("What funding is available to start a small business?",
     "Small Business Loans from $10,000 to $250,000 for equipment, inventory or working capital, plus Small "
     "Business Checking and the Business Rewards Card to keep company spending separate.",
     "business", ["P024", "P008", "P016"]),
    ("How much do I need for a down payment on my first home?",
     "The First-Time Homebuyer Mortgage needs as little as 3% down and offers up to $7,500 toward closing "
     "costs. Saving in a Goal Saver Account helps you get there faster.",
     "mortgages", ["P027", "P005"]),
    ("Should I choose a 15-year or a 30-year mortgage?",
     "A 30-year fixed has a lower monthly payment; a 15-year fixed has a lower rate (from 6.10% APR) and costs "
     "far less interest over the life of the loan, but the monthly payment is higher.",
     "mortgages", ["P025", "P026"]),
    ("What is an adjustable-rate mortgage?",
     "Our 7/1 ARM has a rate fixed for seven years from 6.05% APR, then adjusting once a year. It suits buyers "
     "who expect to sell or refinance within seven years.",
     "mortgages", ["P029"]),
    ("How long does mortgage pre-approval take?",
     "Usually one to two business days once we have your pay stubs, two years of tax returns and bank "
     "statements. A pre-approval letter is valid for 90 days.",
     "mortgages", ["P025", "P027"]),
    ("I'm new to investing. Where do I start?",
     "The Managed Growth Portfolio invests in low-cost index funds chosen and rebalanced for you for a 0.35% "
     "yearly fee, from $500. A short questionnaire matches the mix to your goals and risk appetite.",
     "investing", ["P030"]),
    ("Can I buy individual stocks?",
     "Yes, with the Self-Directed Brokerage: $0 commissions on online stock and ETF trades and fractional "
     "shares. It suits customers comfortable with high risk.",
     "investing", ["P031"]),
    ("What low-risk investments do you offer?",
     "The Conservative Income Portfolio holds mainly bonds for steadier income. For a guaranteed return, "
     "consider the 12-Month CD at 4.50% APY.",
     "investing", ["P032", "P006"]),
    ("Do you offer sustainable investing?",
     "The Sustainable ESG Portfolio invests in funds screened for environmental, social and governance "
     "criteria for a 0.40% yearly fee.",
     "investing", ["P033"]),
    ("What is the difference between a Traditional IRA and a Roth IRA?",
     "Traditional IRA contributions may be tax-deductible now and are taxed when withdrawn; Roth IRA "
     "contributions are made after tax and qualified withdrawals are tax-free. Both allow up to $7,000 a year "
     "($8,000 from age 50).",
     "retirement", ["P034", "P035"]),
    ("I'm retiring in a few years. How can I turn savings into income?",
     "The Retirement Income Planner includes a free session with a retirement specialist and a fixed annuity "
     "guaranteeing 5.10% for the first five years, paid out as monthly income.",
     "retirement", ["P036"]),
    ("Can I roll over my 401(k) when I change jobs?",
     "Yes. Move it into a Traditional IRA without tax or penalty through a direct rollover; we handle the "
     "paperwork with your old plan.",
     "retirement", ["P034"]),
    ("What retirement plan is there for the self-employed?",
     "A Solo 401(k) lets you contribute as both employee and employer, up to $69,000 a year, if your business "
     "has no employees.",
     "retirement", ["P037"]),
    ("How do I save for my child's college?",
     "A 529 College Savings Plan grows tax-free and withdrawals for qualified education costs are tax-free. "
     "You can start with $25 and set up monthly contributions.",
     "education", ["P038"]),
    ("Can grandparents contribute to a child's education savings?",
     "Yes. Anyone can contribute to a 529 plan, and grandparents can open a Future Scholar Custodial Account or "
     "a Coverdell ESA for a grandchild.",
     "education", ["P038", "P039", "P040"]),
    ("How much life insurance do I need?",
     "A common guide is 10 to 12 times your annual income, more if you have a mortgage or young children. "
     "Term Life Insurance offers 20-year cover from $100,000 to $2 million.",
     "insurance", ["P041"]),
    ("Is there a discount on home insurance if my mortgage is with you?",
     "Yes, Homeowners Insurance is 10% cheaper when your mortgage is with Fargo Bank.",
     "insurance", ["P043", "P025"]),
    ("Does pet insurance cover existing conditions?",
     "Pet Insurance does not cover conditions that began before the policy; it covers new accidents and "
     "illnesses with 90% reimbursement after the deductible.",
     "insurance", ["P045"]),
    ("How can I pay for my parent's long-term care?",
     "Long-Term Care Insurance pays up to $6,000 a month toward in-home care, assisted living or a nursing "
     "home. It is available to buy from age 40 to 79, for yourself or as cover for a parent.",
     "insurance", ["P046"]),
    ("What is an HSA and who can open one?",
     "A Health Savings Account lets you save pre-tax money for medical costs if you have a high-deductible "
     "health plan such as our Individual Bronze HDHP. The Health Saver HSA earns 2.50% APY and can be invested.",
     "healthcare", ["P049", "P051"]),
    ("What health plans do you offer for families?",
     "The Family Health Plan PPO covers the whole family with a $1,500 family deductible, $30 doctor visits, "
     "free pediatric and preventive care and maternity cover.",
     "healthcare", ["P050"]),
    ("We're expecting a baby. How can the bank help?",
     "The Maternity & Newborn Care Plan finances birth costs at 0% APR for 12 months. The Family Health Plan "
     "PPO includes maternity care, and a 529 plan or Term Life Insurance helps plan for the years ahead.",
     "healthcare", ["P055", "P050", "P038", "P041"]),
    ("I'm turning 65. Do I need a Medicare supplement?",
     "Original Medicare leaves deductibles and coinsurance to you. Medicare Supplement Plan G covers most of "
     "those gaps with any doctor who accepts Medicare.",
     "healthcare", ["P052"]),
    ("Can I spread the cost of a medical procedure?",
     "Medical Expense Financing covers $500 to $25,000 over up to 24 months at 0% APR if paid in full within "
     "the promotional period, and is accepted at all our partner providers.",
     "healthcare", ["P053"]),
    ("Where can I find a partner doctor near me?",
     "We work with partner providers in 20 cities, from family medicine and pediatrics to cardiology and "
     "dentistry. Ask the assistant for providers in your city or a specialty.",
     "healthcare", []),
    ("How do I set up direct deposit?",
     "Give your employer your account and routing numbers, shown in the app under Account details, or download "
     "a pre-filled direct deposit form. Deposits can arrive up to two days early.",
     "digital_banking", ["P001"]),
    ("How do I send money to friends?",
     "Use Send Money in the app with the recipient's phone number or email. Transfers between enrolled users "
     "usually arrive within minutes.",
     "digital_banking", []),
    ("Can I add my spouse to my account?",
     "Yes. A joint owner can be added in a branch or online; they need to verify their identity. Joint owners "
     "have equal access to the account.",
     "family", ["P001"]),
    ("Can my family see my information?",
     "No, not unless you allow it. You choose in Privacy settings whether relatives' recommendations may use "
     "your data, and you can change that choice at any time.",
     "privacy", []),
    ("How do you use my data to make recommendations?",
     "We use your profile, the accounts you hold and your spending categories, plus goals you have shared "
     "with us, to suggest products. Health information is used only with your explicit consent, and every "
     "recommendation shows the reasons behind it.",
     "privacy", []),
    ("How do I stop marketing messages?",
     "Turn off marketing in Profile > Privacy or reply STOP to any text. Service messages about your accounts "
     "will still be sent.",
     "privacy", []),
    ("How do I spot a phishing message?",
     "We never ask for your password, PIN or one-time code by phone, text or email. Do not click links in "
     "unexpected messages; open the app directly and report the message to us.",
     "security", []),
    ("What are the wire transfer fees?",
     "Incoming wires are free. Outgoing domestic wires cost $25 and international wires $45, except with "
     "Premier Checking, where wires are free.",
     "fees", ["P003"]),
    ("Are there ATM fees?",
     "Our ATMs are free. Other banks' ATMs cost $2.50 plus the owner's fee; Premier Checking refunds ATM fees "
     "worldwide.",
     "fees", ["P001", "P003"]),
    ("What happens if I overdraw my account?",
     "Link your savings for free overdraft protection transfers. Without it, a transaction that would overdraw "
     "your account is usually declined rather than charged a fee.",
     "fees", ["P001", "P004"]),
)

_PRODUCT_QUESTIONS = (
    "What is the {name}?",
    "Who is the {name} designed for?",
    "Tell me about the {name}.",
    "What are the key features of the {name}?",
)

_CATEGORY_OF = {
    "deposit": "accounts", "card": "cards", "loan": "loans", "mortgage": "mortgages",
    "investment": "investing", "retirement": "retirement", "education_savings": "education",
    "insurance": "insurance", "healthcare": "healthcare",
}


def _product_faq(product: Product, number: int) -> tuple[str, str, str, list[str]]:
    question = _PRODUCT_QUESTIONS[number % len(_PRODUCT_QUESTIONS)].format(name=product.name)
    answer = product.description
    eligibility = product.eligibility
    if eligibility.min_age >= 18 and eligibility.max_age < 120:
        answer += f" Available to customers aged {eligibility.min_age} to {eligibility.max_age}."
    elif eligibility.min_age > 18:
        answer += f" Available from age {eligibility.min_age}."
    if eligibility.min_income > 1:
        answer += f" A yearly income of at least ${eligibility.min_income:,.0f} is required."
    return question, answer, _CATEGORY_OF[product.category], [product.product_id]


def faq_documents() -> list[FaqDocument]:
    """Hand-written answers first, then one question per catalogue product."""
    rows = list(_WRITTEN)
    rows += [_product_faq(product, number) for number, product in enumerate(products())]
    return [
        FaqDocument(faq_id=f"F{number:03d}", question=q, answer=a, category=c, product_ids=list(ids))
        for number, (q, a, c, ids) in enumerate(rows, start=1)
    ]
