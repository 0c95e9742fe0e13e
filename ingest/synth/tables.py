"""Fixed tables the synthetic bank draws people from: names, cities, occupations, employers.

Plain data, no randomness: the generator picks from these with its seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass

FEMALE_NAMES = (
    "Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn", "Abigail",
    "Emily", "Elizabeth", "Sofia", "Avery", "Ella", "Scarlett", "Grace", "Chloe", "Victoria", "Riley",
    "Aria", "Lily", "Aubrey", "Zoey", "Penelope", "Layla", "Nora", "Hannah", "Hazel", "Ellie",
    "Maria", "Rosa", "Aaliyah", "Priya", "Mei", "Yuki", "Fatima", "Leah", "Naomi", "Ruth",
    "Linda", "Barbara", "Patricia", "Susan", "Margaret", "Dorothy", "Carol", "Nancy", "Karen", "Diane",
    "Gloria", "Lucia", "Ananya", "Keisha", "Tamara", "Ingrid", "Camila", "Valentina", "Jasmine", "Monica",
)

MALE_NAMES = (
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry", "Alexander",
    "Mason", "Michael", "Ethan", "Daniel", "Jacob", "Logan", "Jackson", "Levi", "Sebastian", "Mateo",
    "Jack", "Owen", "Theodore", "Aiden", "Samuel", "Joseph", "John", "David", "Wyatt", "Matthew",
    "Carlos", "Jose", "Diego", "Raj", "Arjun", "Wei", "Hiroshi", "Omar", "Malik", "Andre",
    "Robert", "Richard", "Thomas", "Charles", "George", "Edward", "Ronald", "Kenneth", "Frank", "Walter",
    "Marcus", "Darnell", "Luis", "Pedro", "Ivan", "Nikolai", "Tariq", "Kwame", "Emeka", "Rafael",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Patel", "Shah", "Kim", "Chen", "Wang", "Singh", "Tanaka", "Okafor", "Mensah", "Kowalski",
    "Novak", "Schmidt", "Muller", "Rossi", "Bianchi", "Dubois", "Laurent", "Costa", "Silva", "Oliveira",
    "Murphy", "Kelly", "Sullivan", "Brennan", "Fischer", "Weber", "Larsen", "Berg", "Cohen", "Levy",
    "Washington", "Jefferson", "Brooks", "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins",
    "Perry", "Powell", "Long", "Patterson", "Hughes", "Price", "Sanders", "Myers", "Foster", "Reed",
)

STREET_NAMES = (
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset",
    "Highland", "Jefferson", "Lincoln", "Madison", "River", "Spring", "Church", "Willow", "Meadow", "Forest",
)
STREET_KINDS = ("St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Ct", "Way")


@dataclass(frozen=True)
class City:
    name: str
    state: str
    zip_prefix: str
    area_code: str
    cost_of_living: float  # multiplies rents and house prices


CITIES = (
    City("New York", "NY", "100", "212", 1.6),
    City("Los Angeles", "CA", "900", "213", 1.5),
    City("Chicago", "IL", "606", "312", 1.1),
    City("Houston", "TX", "770", "713", 0.9),
    City("Phoenix", "AZ", "850", "602", 0.95),
    City("Philadelphia", "PA", "191", "215", 1.0),
    City("San Antonio", "TX", "782", "210", 0.85),
    City("San Diego", "CA", "921", "619", 1.4),
    City("Dallas", "TX", "752", "214", 1.0),
    City("Austin", "TX", "787", "512", 1.15),
    City("Seattle", "WA", "981", "206", 1.4),
    City("Denver", "CO", "802", "303", 1.2),
    City("Boston", "MA", "021", "617", 1.5),
    City("Atlanta", "GA", "303", "404", 1.0),
    City("Miami", "FL", "331", "305", 1.25),
    City("Minneapolis", "MN", "554", "612", 1.0),
    City("Portland", "OR", "972", "503", 1.15),
    City("Nashville", "TN", "372", "615", 1.0),
    City("Charlotte", "NC", "282", "704", 0.95),
    City("Columbus", "OH", "432", "614", 0.85),
)
# Bigger cities hold more of the bank's customers.
CITY_WEIGHTS = (14, 11, 8, 6, 5, 5, 4, 4, 5, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 2)


@dataclass(frozen=True)
class Occupation:
    title: str
    income_low: float
    income_high: float
    min_age: int
    max_age: int
    sector: str  # picks the employer list
    degree: bool = False  # likely to carry student loans early in a career


OCCUPATIONS = (
    Occupation("Software Engineer", 95_000, 195_000, 21, 67, "tech", True),
    Occupation("Data Analyst", 60_000, 112_000, 21, 67, "tech", True),
    Occupation("Registered Nurse", 65_000, 118_000, 21, 67, "health", True),
    Occupation("Physician", 190_000, 390_000, 27, 72, "health", True),
    Occupation("Pharmacist", 110_000, 155_000, 25, 70, "health", True),
    Occupation("Teacher", 42_000, 80_000, 22, 67, "education", True),
    Occupation("Professor", 75_000, 165_000, 28, 75, "education", True),
    Occupation("Accountant", 55_000, 108_000, 21, 67, "finance", True),
    Occupation("Financial Analyst", 65_000, 135_000, 21, 67, "finance", True),
    Occupation("Attorney", 90_000, 260_000, 25, 72, "legal", True),
    Occupation("Electrician", 48_000, 98_000, 19, 67, "trades"),
    Occupation("Plumber", 45_000, 92_000, 19, 67, "trades"),
    Occupation("Carpenter", 40_000, 82_000, 18, 67, "trades"),
    Occupation("Sales Associate", 26_000, 43_000, 17, 70, "retail"),
    Occupation("Store Manager", 45_000, 82_000, 22, 67, "retail"),
    Occupation("Marketing Manager", 72_000, 145_000, 24, 67, "corporate", True),
    Occupation("Project Manager", 75_000, 138_000, 24, 67, "corporate", True),
    Occupation("Administrative Assistant", 35_000, 56_000, 18, 70, "corporate"),
    Occupation("Truck Driver", 45_000, 82_000, 21, 70, "logistics"),
    Occupation("Police Officer", 55_000, 102_000, 21, 60, "public"),
    Occupation("Firefighter", 50_000, 96_000, 21, 60, "public"),
    Occupation("Chef", 35_000, 72_000, 18, 70, "hospitality"),
    Occupation("Restaurant Server", 22_000, 46_000, 17, 70, "hospitality"),
    Occupation("Graphic Designer", 45_000, 88_000, 20, 67, "creative", True),
    Occupation("Small Business Owner", 40_000, 210_000, 22, 75, "self"),
    Occupation("Real Estate Agent", 35_000, 155_000, 21, 75, "self"),
)
STUDENT = Occupation("Student", 0, 18_000, 17, 30, "campus")
RETIRED = Occupation("Retired", 18_000, 95_000, 55, 120, "pension")
HOMEMAKER = Occupation("Homemaker", 0, 0, 18, 120, "none")
UNEMPLOYED = Occupation("Unemployed", 0, 12_000, 17, 120, "none")

EMPLOYERS = {
    "tech": ("Brightline Software", "Cobalt Systems", "Nimbus Data Inc.", "Quartz Labs", "Helix Networks"),
    "health": ("Mercy General Hospital", "Lakeside Health System", "CarePoint Clinics", "St. Anne Medical Center"),
    "education": ("City Public Schools", "State University", "Westbrook Academy", "Riverside Community College"),
    "finance": ("Harbor Capital Partners", "Summit Accounting Group", "Ledgerline CPAs", "Keystone Insurance Co."),
    "legal": ("Hale & Porter LLP", "Whitman Legal Group", "Redstone Law"),
    "trades": ("Ace Building Services", "Ironclad Construction", "BlueRiver Contractors", "Union Local 42"),
    "retail": ("Marketplace Stores", "Urban Outfitters Co-op", "Homestead Hardware", "Sunrise Mall Group"),
    "corporate": ("Northwind Traders", "Atlas Consulting", "Pinnacle Brands", "Crescent Logistics HQ"),
    "logistics": ("Crescent Freight", "Roadway Express Lines", "Parcel Pro Delivery"),
    "public": ("City Police Department", "County Fire Rescue", "State Department of Transportation"),
    "hospitality": ("Golden Fork Restaurants", "Harborview Hotel", "Saffron Kitchen Group"),
    "creative": ("Pixel & Press Studio", "Bold Ideas Agency", "Freelance"),
    "self": ("Self-employed",),
    "campus": ("",),
    "pension": ("",),
    "none": ("",),
}

PETS_SHARE = 0.35  # share of households with a pet

KYC_DOC_TYPES = ("drivers_license", "passport", "state_id", "utility_bill", "bank_statement", "ssn_card")

HANDLE_WORDS = (
    "coffee", "trail", "pixel", "sunny", "wander", "urban", "cactus", "maple", "neon", "retro",
    "vinyl", "harbor", "canyon", "tidal", "orbit", "lunar", "summit", "comet", "velvet", "rocket",
)
HANDLE_NOUNS = ("fan", "life", "dreams", "vibes", "daily", "hub", "talks", "shots", "crew", "notes")
PHOTO_SUFFIXES = ("photos", "pics", "travels", "eats", "life", "art", "fit", "home")
