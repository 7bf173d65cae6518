"""Generate the example shop's raw CSV files: customers, products, orders, order items and
payments of a small fictional online shop over the first half of 2026, and the orders of its
coffee bar, one file per day from 2026-01-01 to 2026-02-14 (``daily_orders/{date}.csv``).

Run once with a fixed seed; the output is committed beside this script, so the example is
reproducible byte for byte: ``python example_project/data/generate.py``. Standard library only.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

SEED = 20261121
HERE = Path(__file__).resolve().parent
START = dt.date(2026, 1, 1)
DAYS = 181  # 2026-01-01 .. 2026-06-30
FIRST = ["Ana", "Budi", "Citra", "Dewi", "Eko", "Fajar", "Gita", "Hana", "Indra", "Joko",
         "Kartika", "Lina", "Made", "Nadia", "Oka", "Putri", "Rudi", "Sari", "Tono", "Wulan"]
LAST = ["Santoso", "Wijaya", "Lestari", "Pratama", "Kusuma", "Hidayat", "Saputra", "Utami",
        "Nugroho", "Rahayu", "Siregar", "Halim"]
COUNTRIES = [("ID", 60), ("SG", 15), ("MY", 15), ("AU", 10)]
CATEGORIES = {
    "coffee": ["Java Arabica", "Toraja", "Gayo", "Kintamani", "Flores Bajawa", "Mandheling"],
    "tea": ["Jasmine", "Black Tea", "Pandan Green", "Lemongrass", "Ginger Chai"],
    "equipment": ["Pour-over Kettle", "Grinder", "Dripper", "Scale", "French Press"],
    "merch": ["Tote Bag", "Enamel Mug", "Cap", "Notebook"],
}
SIZES = ["250 g", "500 g", "1 kg"]
STATUSES = [("completed", 80), ("shipped", 8), ("placed", 4), ("returned", 5), ("cancelled", 3)]
METHODS = [("credit_card", 50), ("bank_transfer", 25), ("e_wallet", 20), ("gift_card", 5)]
BAR_DAYS = 45  # 2026-01-01 .. 2026-02-14
BAR_MENU = [("Espresso", 2.5), ("Flat White", 3.8), ("Kopi Susu", 3.2), ("Pandan Latte", 4.1),
            ("Jasmine Tea", 2.9), ("Croissant", 3.0)]


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    """One value of a weighted list."""
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def write(name: str, header: list[str], rows: list[list[object]]) -> None:
    """Write one CSV file with Unix line endings."""
    (HERE / name).parent.mkdir(exist_ok=True)
    with open(HERE / name, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)


def main() -> None:
    """Write the five files."""
    rng = random.Random(SEED)

    customers = []
    for cid in range(1, 501):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{cid}@example.com"
        signup = START - dt.timedelta(days=365) + dt.timedelta(days=rng.randrange(365 + DAYS))
        customers.append([cid, first, last, email, pick(rng, COUNTRIES), signup.isoformat()])
    write("raw_customers.csv",
          ["id", "first_name", "last_name", "email", "country", "signup_date"], customers)

    products = []
    for category, names in CATEGORIES.items():
        for name in names:
            sizes = SIZES if category in ("coffee", "tea") else [""]
            for size in sizes:
                pid = len(products) + 1
                base = {"coffee": 9, "tea": 6, "equipment": 35, "merch": 12}[category]
                factor = {"250 g": 1.0, "500 g": 1.8, "1 kg": 3.2, "": 1.0}[size]
                price = round(base * factor * rng.uniform(0.8, 1.6), 2)
                label = f"{name} {size}".strip()
                products.append([pid, f"SKU-{pid:04d}", label, category, f"{price:.2f}"])
    write("raw_products.csv", ["id", "sku", "name", "category", "price"], products)

    orders, items, payments = [], [], []
    for oid in range(1, 2001):
        customer = rng.randint(1, 500)
        day = START + dt.timedelta(days=min(DAYS - 1, int(rng.triangular(0, DAYS, DAYS))))
        status = pick(rng, STATUSES)
        orders.append([oid, customer, day.isoformat(), status])
        total = 0
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
            product = rng.choice(products)
            quantity = rng.choice([1, 1, 1, 2, 3])
            unit_cents = round(float(str(product[4])) * 100)
            items.append([len(items) + 1, oid, product[0], quantity, unit_cents])
            total += quantity * unit_cents
        if status == "placed":
            continue  # not paid yet
        if rng.random() < 0.1:  # split over two methods
            first_part = total // 2
            payments.append([len(payments) + 1, oid, "gift_card", first_part])
            payments.append([len(payments) + 1, oid, pick(rng, METHODS), total - first_part])
        else:
            payments.append([len(payments) + 1, oid, pick(rng, METHODS), total])
    write("raw_orders.csv", ["id", "user_id", "order_date", "status"], orders)
    write("raw_order_items.csv",
          ["id", "order_id", "product_id", "quantity", "unit_price_cents"], items)
    write("raw_payments.csv", ["id", "order_id", "payment_method", "amount"], payments)
    write_bar_days()


def write_bar_days() -> None:
    """Write the coffee bar's orders, one file per day, with a generator of their own (so the
    five files above stay as they were)."""
    rng = random.Random(SEED + 1)
    oid = 0
    for n in range(BAR_DAYS):
        day = START + dt.timedelta(days=n)
        rows: list[list[object]] = []
        minutes = sorted(rng.sample(range(7 * 60, 18 * 60), rng.randint(3, 6)))
        for minute in minutes:
            oid += 1
            item, price = rng.choice(BAR_MENU)
            status = "cancelled" if rng.random() < 0.05 else "completed"
            rows.append([oid, f"{minute // 60:02d}:{minute % 60:02d}", item,
                         rng.choice([1, 1, 2, 3]), f"{price:.2f}", status])
        write(f"daily_orders/{day.isoformat()}.csv",
              ["id", "time", "item", "quantity", "price", "status"], rows)


if __name__ == "__main__":
    main()
