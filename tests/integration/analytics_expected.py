#!/usr/bin/env python3
"""analytics_expected.py: the analytics layer's figures, computed here from
the shop as MariaDB holds it and the page-view events as they were sent, with
no SQL: the independent side of tests/integration/analytics.sh.

    analytics_expected.py DIR OUT

DIR holds users.tsv, products.tsv, sales.tsv, sales_details.tsv (mariadb -B -N)
and events.jsonl (pvproduce --echo: key TAB event per line) and events_now.jsonl (the events of the
last five minutes).  OUT gets one file per figure, each line one row in the
canonical form analytics.sh also asks PostgreSQL for.

Definitions (docs/analytics.md): a sale is an order paid or shipped; the
business day is the date in Asia/Tokyo (the shop writes its DATETIMEs in
Tokyo wall-clock time, so it is the DATETIME's date); weeks start on Monday;
rankings (per week and month) are rank() by revenue and by quantity within a period, against the
same product's (category's) figures in the period before.
"""
import collections
import datetime as dt
import decimal
import json
import os
import sys

D = decimal.Decimal
decimal.getcontext().prec = 60
JST = dt.timezone(dt.timedelta(hours=9))
SALE = ("paid", "shipped")


def r2(x):
    return x.quantize(D("0.01"), rounding=decimal.ROUND_HALF_UP)


def tsv(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                yield [None if v == "NULL" else v for v in line.split("\t")]


def age_band(age):
    if age is None:
        return "unknown"
    for limit, band in ((20, "-19"), (30, "20-29"), (40, "30-39"), (50, "40-49"), (60, "50-59")):
        if age < limit:
            return band
    return "60+"


def page_kind(page):
    if page == "/":
        return "home"
    for prefix, kind in (("/category/", "category"), ("/products/", "product"), ("/search", "search")):
        if page.startswith(prefix):
            return kind
    if page in ("/cart", "/checkout"):
        return page[1:]
    if page == "/checkout/complete":
        return "complete"
    if page.startswith("/mypage"):
        return "mypage"
    return "other"


def week_start(d):
    return d - dt.timedelta(days=d.weekday())


def month_start(d):
    return d.replace(day=1)


def previous_start(period, d):
    if period == "day":
        return d - dt.timedelta(days=1)
    if period == "week":
        return d - dt.timedelta(days=7)
    return (d.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def ranks(rows, key):
    """rank() OVER (ORDER BY key DESC): 1 + how many are strictly greater"""
    values = sorted((key(r) for r in rows), reverse=True)
    first = {}
    for i, v in enumerate(values):
        first.setdefault(v, i + 1)
    return [first[key(r)] for r in rows]


def pct(new, old):
    return "" if old == 0 else str(r2(D(100) * (new - old) / old))


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    users = {}
    for uid, age, gender, occupation in tsv(os.path.join(src, "users.tsv")):
        users[int(uid)] = (age_band(None if age is None else int(age)), gender or "unknown", occupation or "unknown")
    products = {int(p): cat for p, cat in tsv(os.path.join(src, "products.tsv"))}
    sales = {}
    for sid, uid, sold_at, total, status in tsv(os.path.join(src, "sales.tsv")):
        wall = dt.datetime.strptime(sold_at, "%Y-%m-%d %H:%M:%S")
        sales[int(sid)] = (int(uid), wall.date(), wall.replace(tzinfo=JST), D(total), status)
    lines = [(int(s), int(p), int(q), D(u)) for _, s, p, q, u in tsv(os.path.join(src, "sales_details.tsv"))]

    files = {}

    def emit(name, *fields):
        files.setdefault(name, []).append("|".join("" if f is None else str(f) for f in fields))

    # sales per business day, week, month; orders by status
    items = collections.Counter()
    for s, p, q, u in lines:
        items[s] += q
    day = collections.defaultdict(lambda: [0, D(0), 0, set()])
    status = collections.defaultdict(lambda: [0, D(0)])
    for sid, (uid, d, _, total, st) in sales.items():
        status[(d, st)][0] += 1
        status[(d, st)][1] += total
        if st in SALE:
            a = day[d]
            a[0] += 1
            a[1] += total
            a[2] += items[sid]
            a[3].add(uid)
    for d, (n, rev, it, cust) in sorted(day.items()):
        emit("sales_daily", d, n, rev, it, len(cust), r2(rev / n))
    for (d, st), (n, amount) in sorted(status.items()):
        emit("orders_by_status", d, st, n, amount)
    for name, start in (("sales_weekly", week_start), ("sales_monthly", month_start)):
        agg = collections.defaultdict(lambda: [0, D(0), 0])
        for d, (n, rev, it, _) in day.items():
            a = agg[start(d)]
            a[0] += n
            a[1] += rev
            a[2] += it
        for k, (n, rev, it) in sorted(agg.items()):
            emit(name, k, n, rev, it, r2(rev / n))

    # rankings: product and category, per day, week and month
    for name, key_of in (("product_ranking", lambda p: p), ("category_ranking", lambda p: products.get(p, "unknown"))):
        per = collections.defaultdict(lambda: [0, D(0)])
        for s, p, q, u in lines:
            _, d, _, _, st = sales[s]
            if st not in SALE:
                continue
            for period, start in (("week", week_start(d)), ("month", month_start(d))):
                a = per[(period, start, key_of(p))]
                a[0] += q
                a[1] += q * u
        groups = collections.defaultdict(list)
        for (period, start, k), (q, rev) in per.items():
            groups[(period, start)].append((k, q, rev))
        for (period, start), rows in sorted(groups.items()):
            rr = ranks(rows, lambda r: r[2])
            qr = ranks(rows, lambda r: r[1])
            for (k, q, rev), a, b in zip(rows, rr, qr):
                pq, prev = per.get((period, previous_start(period, start), k), (0, D(0)))
                emit(name, period, start, k, q, rev, a, b, pq, prev, rev - prev, pct(rev, prev))

    # what each segment buys
    seg = collections.defaultdict(lambda: [set(), set(), 0, D(0)])
    for s, p, q, u in lines:
        uid, _, _, _, st = sales[s]
        if st not in SALE:
            continue
        a = seg[users.get(uid, ("unknown", "unknown", "unknown")) + (products.get(p, "unknown"),)]
        a[0].add(uid)
        a[1].add(s)
        a[2] += q
        a[3] += q * u
    for k, (cust, orders, q, rev) in sorted(seg.items()):
        emit("segment_sales", *k, len(cust), len(orders), q, rev)
    for k, n in sorted(collections.Counter(users.values()).items()):
        emit("customer_segments", *k, n)

    # page views: traffic per hour, funnel, pages before purchase
    events = []
    for fname in ("events.jsonl", "events_now.jsonl"):
        with open(os.path.join(src, fname), encoding="utf-8") as f:
            events += [json.loads(line.split("\t", 1)[1]) for line in f if line.strip()]
    traffic = collections.defaultdict(lambda: [0, set()])
    steps = collections.defaultdict(set)
    by_user = collections.defaultdict(list)
    for e in events:
        at = dt.datetime.fromisoformat(e["viewed_at"])
        hour = at.astimezone(JST).replace(minute=0, second=0, microsecond=0)
        a = traffic[(int(hour.timestamp()), e["page"])]
        a[0] += 1
        a[1].add(e["user_id"])
        kind = page_kind(e["page"])
        if kind in ("product", "cart", "checkout", "complete"):
            segment = (age_band(e.get("age")), e.get("gender") or "unknown", e.get("occupation") or "unknown")
            for sk, sv in (("all", "all"), ("age_band", segment[0]), ("gender", segment[1]), ("occupation", segment[2])):
                steps[(sk, sv, kind)].add(e["user_id"])
        by_user[e["user_id"]].append((at, e["page"]))
    for (hour, page), (n, us) in sorted(traffic.items()):
        emit("page_traffic_hourly", hour, page, page_kind(page), n, len(us))
    for sk, sv in sorted({(k[0], k[1]) for k in steps}):
        n = [len(steps.get((sk, sv, s), ())) for s in ("product", "cart", "checkout", "complete")]
        rate = [pct_of(n[1], n[0]), pct_of(n[2], n[1]), pct_of(n[3], n[2]), pct_of(n[3], n[0])]
        emit("funnel", sk, sv, *n, *rate)
    before = collections.defaultdict(lambda: [set(), set()])
    for sid, (uid, _, at, _, st) in sales.items():
        if st not in SALE:
            continue
        for vat, page in by_user.get(uid, ()):
            if at - dt.timedelta(hours=24) <= vat < at:
                before[page][0].add(sid)
                before[page][1].add(uid)
    for page, (orders, buyers) in sorted(before.items()):
        emit("pages_before_purchase", page, page_kind(page), len(orders), len(buyers))

    now = []
    with open(os.path.join(src, "events_now.jsonl"), encoding="utf-8") as f:
        now = [json.loads(line.split("\t", 1)[1]) for line in f if line.strip()]
    emit("active_users", len({e["user_id"] for e in now}), len(now))

    for name, rows in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write("\n".join(sorted(rows)) + "\n")
    print(" ".join(f"{k}={len(v)}" for k, v in sorted(files.items())))


def pct_of(a, b):
    return "" if b == 0 else str(r2(D(100) * a / b))


if __name__ == "__main__":
    main()
