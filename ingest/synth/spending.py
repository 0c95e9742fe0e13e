"""Spending tables for the synthetic bank: categories, merchants, typical amounts.

Discretionary categories are drawn per transaction from a customer's weights;
recurring ones (pay, rent, bills, transfers) follow a monthly schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

CARD, ONLINE, ATM, TRANSFER, DEBIT, PAYROLL = (
    "card_present", "online", "atm", "transfer", "direct_debit", "payroll",
)


@dataclass(frozen=True)
class Category:
    name: str
    median: float  # typical amount in dollars
    spread: float  # sigma of the log-normal around the median
    weight: float  # share of discretionary transactions before life stage and needs
    merchants: tuple[tuple[str, str, str], ...]  # (merchant, mcc, channel)


DISCRETIONARY = (
    Category("groceries", 62, 0.6, 20, (
        ("FreshMart Grocery", "5411", CARD), ("Green Basket Market", "5411", CARD),
        ("Sunrise Supermarket", "5411", CARD), ("Harvest Foods", "5411", CARD),
        ("PantryPal Delivery", "5411", ONLINE), ("Corner Fresh Co-op", "5411", CARD),
        ("ValueWay Warehouse Club", "5300", CARD),
    )),
    Category("dining", 31, 0.65, 14, (
        ("Bella Pasta Trattoria", "5812", CARD), ("Blue Door Bistro", "5812", CARD),
        ("Taco Fiesta", "5814", CARD), ("Java Junction Coffee", "5814", CARD),
        ("Golden Dragon Kitchen", "5812", CARD), ("Burger Barn", "5814", CARD),
        ("DashEats Delivery", "5812", ONLINE), ("Sakura Sushi Bar", "5812", CARD),
    )),
    Category("travel", 310, 0.85, 2, (
        ("SkyWays Airlines", "4511", ONLINE), ("Horizon Air", "4511", ONLINE),
        ("Grand Harbor Hotels", "7011", ONLINE), ("Cozy Stay Inns", "7011", CARD),
        ("Wanderlust Travel Agency", "4722", ONLINE), ("Roadrunner Car Rental", "7512", CARD),
        ("TripNest Vacation Rentals", "4722", ONLINE),
    )),
    Category("fuel", 47, 0.3, 8, (
        ("QuickFill Gas", "5541", CARD), ("Lone Pump Fuel", "5541", CARD),
        ("Eagle Petroleum", "5542", CARD), ("ChargeUp EV Stations", "5552", CARD),
    )),
    Category("transit", 17, 0.7, 4, (
        ("Metro Transit Authority", "4111", CARD), ("RideNow Rideshare", "4121", ONLINE),
        ("CityCab Taxi", "4121", CARD), ("Regional Rail", "4112", ONLINE),
        ("ParkSmart Garages", "7523", CARD),
    )),
    Category("entertainment", 27, 0.8, 7, (
        ("StreamFlix", "4899", ONLINE), ("TuneBox Music", "5815", ONLINE),
        ("Starlight Cinemas", "7832", CARD), ("Arena Tickets", "7922", ONLINE),
        ("GameVault", "5816", ONLINE), ("Bowl-a-Rama", "7933", CARD),
    )),
    Category("shopping", 68, 0.9, 12, (
        ("ShopSphere Online", "5399", ONLINE), ("Maplewood Department Store", "5311", CARD),
        ("Threads Clothing Co.", "5651", CARD), ("GadgetHub Electronics", "5732", CARD),
        ("Page Turner Books", "5942", CARD), ("HomeNest Furnishings", "5712", CARD),
        ("TrendCart", "5399", ONLINE),
    )),
    Category("pets", 52, 0.7, 0, (
        ("Paws & Claws Pet Supply", "5995", CARD), ("Happy Tails Veterinary", "0742", CARD),
        ("PetPantry Online", "5995", ONLINE), ("Furry Friends Grooming", "0742", CARD),
    )),
    Category("home_improvement", 135, 1.0, 2, (
        ("Homestead Hardware", "5200", CARD), ("BuildRight Supply", "5211", CARD),
        ("Perfect Paint & Decor", "5231", CARD), ("GreenThumb Garden Center", "5261", CARD),
        ("FixIt Handyman Services", "1520", CARD),
    )),
    Category("medical", 115, 0.9, 2, (
        ("Lakeside Family Medicine", "8011", CARD), ("Bright Smile Dental", "8021", CARD),
        ("Mercy General Hospital", "8062", ONLINE), ("ClearView Optometry", "8042", CARD),
        ("QuickCare Urgent Care", "8099", CARD), ("Regional Lab Services", "8071", ONLINE),
    )),
    Category("pharmacy", 27, 0.7, 3, (
        ("WellRx Pharmacy", "5912", CARD), ("CareMart Drugstore", "5912", CARD),
        ("MedDirect Mail Pharmacy", "5912", ONLINE),
    )),
    Category("baby_supplies", 54, 0.6, 0, (
        ("Little Sprouts Baby Store", "5641", CARD), ("Stork & Co.", "5641", ONLINE),
        ("BabyNest Essentials", "5641", CARD), ("Tiny Toes Kids Wear", "5641", CARD),
    )),
    Category("education", 165, 0.9, 0.3, (
        ("State University Bursar", "8220", ONLINE), ("Bright Minds Tutoring", "8299", CARD),
        ("Westbrook Academy Tuition", "8211", ONLINE), ("CampusBooks", "5942", ONLINE),
        ("LearnLoop Online Courses", "8299", ONLINE),
    )),
    Category("auto", 210, 0.8, 2, (
        ("Precision Auto Repair", "7538", CARD), ("PartsPlus Auto Supply", "5533", CARD),
        ("Sparkle Car Wash", "7542", CARD), ("Metro Motors Dealership", "5511", CARD),
        ("TireTown", "5532", CARD), ("DMV Registration", "9399", ONLINE),
    )),
    Category("fitness", 44, 0.4, 2, (
        ("IronWorks Gym", "7997", DEBIT), ("Flow Yoga Studio", "7997", CARD),
        ("PeakFit Sports Store", "5941", CARD),
    )),
    Category("wedding", 620, 0.9, 0, (
        ("Ever After Bridal", "5621", CARD), ("Diamond Lane Jewelers", "5944", CARD),
        ("Rosewood Event Venue", "7299", ONLINE), ("Bloom Florals", "5992", CARD),
        ("Lens & Light Photography", "7221", ONLINE),
    )),
    Category("business_supplies", 125, 0.8, 0.3, (
        ("OfficePoint Supplies", "5943", CARD), ("CloudDesk Software", "5734", ONLINE),
        ("PrintPro Business Cards", "2741", ONLINE), ("AdReach Advertising", "7311", ONLINE),
        ("Registered Agent Services", "7399", ONLINE),
    )),
    Category("senior_care", 360, 0.6, 0, (
        ("Golden Years Home Care", "8050", ONLINE), ("Sunrise Assisted Living", "8050", DEBIT),
        ("CareCompanion Services", "8099", ONLINE), ("Mobility Medical Supply", "5047", CARD),
    )),
    Category("cash_withdrawal", 80, 0.5, 4, (
        ("Fargo Bank ATM", "6011", ATM), ("Non-network ATM", "6011", ATM),
    )),
    Category("charity", 48, 0.7, 1.5, (
        ("Red Cross Donation", "8398", ONLINE), ("City Food Bank", "8398", ONLINE),
        ("Animal Rescue League", "8398", ONLINE), ("Public Radio Pledge", "8398", ONLINE),
    )),
    Category("personal_care", 39, 0.5, 4, (
        ("Glow Salon & Spa", "7230", CARD), ("Sharp Cuts Barbershop", "7241", CARD),
        ("Beauty Bar Cosmetics", "5977", CARD),
    )),
)

CATEGORY_INDEX = {category.name: index for index, category in enumerate(DISCRETIONARY)}


@dataclass(frozen=True)
class Recurring:
    name: str  # the transaction category
    channel: str
    mcc: str = ""


RECURRING = {
    "payroll": Recurring("payroll", PAYROLL),
    "pension": Recurring("pension", TRANSFER),
    "rent": Recurring("rent", TRANSFER, "6513"),
    "mortgage_payment": Recurring("mortgage_payment", DEBIT, "6012"),
    "utilities": Recurring("utilities", DEBIT, "4900"),
    "telecom": Recurring("telecom", DEBIT, "4814"),
    "insurance": Recurring("insurance", DEBIT, "6300"),
    "childcare": Recurring("childcare", DEBIT, "8351"),
    "loan_payment": Recurring("loan_payment", DEBIT, "6012"),
    "savings_transfer": Recurring("savings_transfer", TRANSFER),
    "brokerage_transfer": Recurring("brokerage_transfer", TRANSFER, "6211"),
    "debt_payment": Recurring("debt_payment", TRANSFER, "6012"),
    "student_loan_payment": Recurring("student_loan_payment", DEBIT, "6012"),
}

PENSION_PAYERS = ("Social Security Administration", "State Teachers Retirement System", "Keystone Pension Trust")
LANDLORDS = ("Parkview Property Management", "Oakridge Apartments", "Cityline Rentals", "Summit Residential LLC",
             "Greenway Living")
MORTGAGE_LENDERS = ("Lakeview Home Loans", "Pioneer Mortgage Co.", "Fargo Bank Mortgage")
UTILITIES = ("City Power & Light", "Metro Water Utility", "Clearwave Gas & Electric")
TELECOMS = ("Nimbus Wireless", "FiberLink Internet", "Bluewave Mobile")
INSURERS = ("Keystone Insurance Co.", "SafeHarbor Auto Insurance", "Fargo Insurance Services")
CHILDCARE = ("Little Learners Daycare", "Sunshine Early Learning", "Bright Beginnings Academy")
LOAN_SERVICERS = ("Fargo Bank Loan Payment", "Metro Auto Finance")
SAVINGS_TARGETS = ("Transfer to Fargo Savings",)
BROKERS = ("Evergreen Brokerage", "Fargo Investment Transfer", "Summit Retirement Funds")
CARD_ISSUERS = ("Capital Card Services", "Apex Credit Card Payment", "Northstar Card Payment",
                "RetailPlus Store Card")
STUDENT_LOAN_SERVICERS = ("National Student Loan Servicing", "EduFund Loan Services")

RECURRING_MERCHANTS = {
    "pension": PENSION_PAYERS,
    "rent": LANDLORDS,
    "mortgage_payment": MORTGAGE_LENDERS,
    "utilities": UTILITIES,
    "telecom": TELECOMS,
    "insurance": INSURERS,
    "childcare": CHILDCARE,
    "loan_payment": LOAN_SERVICERS,
    "savings_transfer": SAVINGS_TARGETS,
    "brokerage_transfer": BROKERS,
    "debt_payment": CARD_ISSUERS,
    "student_loan_payment": STUDENT_LOAN_SERVICERS,
}

# Life stage -> category -> multiplier on the base weight.
STAGE_MULTIPLIERS = {
    "student": {"dining": 1.5, "transit": 2.5, "fuel": 0.4, "entertainment": 1.6, "education": 8,
                "groceries": 0.7, "home_improvement": 0.1, "travel": 0.6, "charity": 0.3},
    "young_adult": {"dining": 1.4, "entertainment": 1.3, "transit": 1.5, "fitness": 1.8,
                    "home_improvement": 0.4},
    "family": {"groceries": 1.5, "shopping": 1.2, "dining": 0.8, "medical": 1.3, "entertainment": 0.9},
    "midlife": {},
    "pre_retiree": {"medical": 1.5, "pharmacy": 1.5, "travel": 1.3, "charity": 1.4},
    "retiree": {"medical": 2.5, "pharmacy": 2.5, "travel": 1.4, "fuel": 0.7, "dining": 0.9,
                "entertainment": 0.6, "charity": 2.2, "fitness": 0.5, "transit": 0.7},
}
