#!/usr/bin/env python3
"""cdc_workload.py: a random, reproducible workload of SQL transactions on the
sample shop (tests/gen/shop_schema.sql), for the change-capture tests.

    cdc_workload.py --seed 7 --transactions 2000 --users 1000 --products 100 \
        --sales 15000 --details 45000 [--rate 500] | mariadb DB

Inserts (a sale with its details), updates of non-key columns (one row and
many), updates of primary keys, deletes (one row and many), NULLs, and
multi-table transactions; every statement names rows that exist then.
--rate spreads the transactions over time (transactions per second).

--bench CHANGES writes the benchmark's binary log instead: about CHANGES row
changes in transactions like a busy shop's (mostly inserts of sales and
their details, some status updates, some deletes), each row change counted
exactly, and after every 100,000 of them (and at the end) the count in
bench_marker (id 1), so that a reader can tell how far an applier got.
"""
import argparse
import random
import sys
import time

STATUSES = ["pending", "paid", "shipped", "cancelled", "refunded"]
OCCUPATIONS = ["会社員", "学生", "自営業", "その他", "engineer", "O'Brien \\ co"]
CATEGORIES = ["ペン", "ノート", "ファイル", "消しゴム"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--transactions", type=int, default=1000)
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--products", type=int, required=True)
    ap.add_argument("--sales", type=int, required=True)
    ap.add_argument("--details", type=int, required=True)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--bench", type=int, default=0)
    a = ap.parse_args()
    if a.bench:
        return bench(a)
    rnd = random.Random(a.seed)
    users = list(range(1, a.users + 1))
    sales = set(range(1, a.sales + 1))
    details = set(range(1, a.details + 1))
    sales_list = list(sales)
    details_list = list(details)
    next_sale = 20_000_000 + a.seed * 1_000_000
    next_detail = 40_000_000 + a.seed * 3_000_000
    out = sys.stdout
    t0 = time.monotonic()

    def pick(s, lst):
        # a random live id (lst may hold dead ones: retry)
        while True:
            x = lst[rnd.randrange(len(lst))]
            if x in s:
                return x

    for n in range(a.transactions):
        stmts = []
        for _ in range(rnd.randint(1, 4)):
            op = rnd.random()
            if op < 0.45:
                next_sale += 1
                sid = next_sale
                sales.add(sid)
                sales_list.append(sid)
                stmts.append("INSERT INTO sales (id, user_id, sold_at, total, status) VALUES "
                             f"({sid}, {rnd.choice(users)}, '2026-11-{rnd.randint(1, 28):02d} "
                             f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00', "
                             f"{rnd.randint(100, 99999)}.{rnd.randint(0, 99):02d}, '{rnd.choice(STATUSES)}')")
                rows = []
                for _ in range(rnd.randint(1, 4)):
                    next_detail += 1
                    details.add(next_detail)
                    details_list.append(next_detail)
                    rows.append(f"({next_detail}, {sid}, {rnd.randint(1, a.products)}, "
                                f"{rnd.randint(1, 65535)}, {rnd.randint(0, 9999)}.{rnd.randint(0, 99):02d})")
                stmts.append("INSERT INTO sales_details (id, sale_id, product_id, quantity, unit_price) VALUES "
                             + ", ".join(rows))
            elif op < 0.60:
                stmts.append(f"UPDATE sales SET status = '{rnd.choice(STATUSES)}' WHERE id = {pick(sales, sales_list)}")
            elif op < 0.68:
                uid = rnd.choice(users)
                age = "NULL" if rnd.random() < 0.2 else str(rnd.randint(0, 255))
                occ = rnd.choice(OCCUPATIONS).replace("\\", "\\\\").replace("'", "''")
                stmts.append(f"UPDATE users SET age = {age}, occupation = '{occ}' WHERE id = {uid}")
            elif op < 0.72:
                cat = rnd.choice(CATEGORIES)
                stmts.append(f"UPDATE products SET stock = stock + {rnd.randint(-5, 5)} WHERE category = '{cat}'")
            elif op < 0.78:
                # a key update
                old = pick(details, details_list)
                next_detail += 1
                details.discard(old)
                details.add(next_detail)
                details_list.append(next_detail)
                stmts.append(f"UPDATE sales_details SET id = {next_detail} WHERE id = {old}")
            elif op < 0.90:
                d = pick(details, details_list)
                details.discard(d)
                stmts.append(f"DELETE FROM sales_details WHERE id = {d}")
            else:
                # a sale and all its details
                s = pick(sales, sales_list)
                sales.discard(s)
                stmts.append(f"DELETE FROM sales_details WHERE sale_id = {s}")
                stmts.append(f"DELETE FROM sales WHERE id = {s}")
        # deleted details of a deleted sale are gone from the set lazily: pick() checks membership only
        out.write("START TRANSACTION;\n" + ";\n".join(stmts) + ";\nCOMMIT;\n")
        if a.rate > 0:
            due = t0 + (n + 1) / a.rate
            now = time.monotonic()
            if due > now:
                out.flush()
                time.sleep(due - now)
    out.flush()


def bench(a):
    """the benchmark's workload: see the module's comment"""
    rnd = random.Random(a.seed)
    users = a.users
    live_sales = list(range(1, a.sales + 1))
    live_details = list(range(1, a.details + 1))
    next_sale = 30_000_000
    next_detail = 60_000_000
    changes = 0
    marked = 0
    out = sys.stdout
    while changes < a.bench:
        stmts = []
        sales_rows, detail_rows = [], []
        for _ in range(20):
            next_sale += 1
            live_sales.append(next_sale)
            sales_rows.append(f"({next_sale}, {rnd.randint(1, users)}, '2026-11-{rnd.randint(1, 28):02d} "
                              f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00', "
                              f"{rnd.randint(100, 99999)}.{rnd.randint(0, 99):02d}, 'paid')")
            for _ in range(3):
                next_detail += 1
                live_details.append(next_detail)
                detail_rows.append(f"({next_detail}, {next_sale}, {rnd.randint(1, a.products)}, "
                                   f"{rnd.randint(1, 9)}, {rnd.randint(100, 9999)}.00)")
        stmts.append("INSERT INTO sales (id, user_id, sold_at, total, status) VALUES " + ", ".join(sales_rows))
        stmts.append("INSERT INTO sales_details (id, sale_id, product_id, quantity, unit_price) VALUES "
                     + ", ".join(detail_rows))
        changes += len(sales_rows) + len(detail_rows)
        for _ in range(6):
            sid = live_sales[rnd.randrange(len(live_sales))]
            stmts.append(f"UPDATE sales SET status = '{rnd.choice(STATUSES)}', total = total + 1 WHERE id = {sid}")
            changes += 1
        for _ in range(2):
            i = rnd.randrange(len(live_details))
            live_details[i], live_details[-1] = live_details[-1], live_details[i]
            stmts.append(f"DELETE FROM sales_details WHERE id = {live_details.pop()}")
            changes += 1
        if changes - marked >= 100_000 or changes >= a.bench:
            changes += 1
            stmts.append(f"UPDATE bench_marker SET changes = {changes} WHERE id = 1")
            marked = changes
        out.write("START TRANSACTION;\n" + ";\n".join(stmts) + ";\nCOMMIT;\n")
    out.flush()
    print(changes, file=sys.stderr)


if __name__ == "__main__":
    main()
