#!/usr/bin/env python3
"""bi_superset.py: the Superset side of tests/integration/bi.sh, run with the
Python of Superset's own virtual environment (requests and selenium are in it).

    bi_superset.py connect DIR     the database (as the read-only role), one
                                   dataset per analytics relation, their
                                   column types, the shop's foreign keys
    bi_superset.py charts DIR      the shop's charts and their dashboard
    bi_superset.py figures DIR     each chart's numbers (chart-data API) against
                                   the independent computation in DIR/expected
    bi_superset.py browser DIR PNG the dashboard in headless Chromium as a
                                   user, every chart checked, a screenshot

DIR (the test's directory) holds what bi.sh gives: catalog.tsv (relation,
column, PostgreSQL type of every analytics column), fks.tsv (the shop's
foreign keys as pg_constraint has them), expected/ (analytics_expected.py's
figures) and page_views.jsonl (the stream's rows); state.json is written
here.  The environment names Superset (ECSYNC_SUPERSET_URL, its admin and
the admin's password file) and the role Superset connects as (BI_PG_*).

Everything goes through Superset's REST API, as a user of Superset would
make it: physical datasets, metrics and filters of columns (no SQL of our
own anywhere), and the numbers come back from Superset's chart-data API.
"""
import collections
import datetime as dt
import decimal
import json
import os
import re
import sys
import time
import urllib.parse

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analytics_expected  # noqa: E402  (its page_kind(), the analytics group's vocabulary)

D = decimal.Decimal
URL = os.environ.get("ECSYNC_SUPERSET_URL", "")
SCHEMA = os.environ.get("BI_ANALYTICS_SCHEMA", "analytics")
SHOP = os.environ.get("BI_SHOP_SCHEMA", "shop")
# Superset's GenericDataType
NUMERIC, STRING, TEMPORAL, BOOLEAN = 0, 1, 2, 3


def fail(msg):
    print("FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


class Api:
    """A logged-in session of Superset's REST API (bearer token, CSRF token)."""

    def __init__(self, user, password):
        self.s = requests.Session()
        r = self.s.post(URL + "/api/v1/security/login",
                        json={"username": user, "password": password, "provider": "db", "refresh": True}, timeout=60)
        if r.status_code != 200:
            fail("Superset login as %s: %s %s" % (user, r.status_code, r.text[:300]))
        self.s.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        csrf = self.call("GET", "/api/v1/security/csrf_token/")["result"]
        self.s.headers.update({"X-CSRFToken": csrf, "Referer": URL})

    def call(self, method, path, body=None, ok=(200, 201)):
        r = self.s.request(method, URL + path, json=body, timeout=120)
        if r.status_code not in ok:
            fail("%s %s: %s %s" % (method, path, r.status_code, r.text[:600]))
        return r.json()


def admin():
    with open(os.environ["ECSYNC_SUPERSET_ADMIN_PASSWORD_FILE"], encoding="utf-8") as f:
        return Api(os.environ.get("ECSYNC_SUPERSET_ADMIN", "admin"), f.read().strip())


def load_state(d):
    with open(os.path.join(d, "state.json"), encoding="utf-8") as f:
        return json.load(f)


def save_state(d, state):
    with open(os.path.join(d, "state.json"), "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)


def rows(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("|") for line in f if line.strip()]


# ---------------------------------------------------------------- connect

def generic_of(pg_type):
    """the generic type Superset must give a PostgreSQL type"""
    t = pg_type.lower()
    if t.startswith(("timestamp", "date")):
        return TEMPORAL
    if t.startswith(("bigint", "integer", "smallint", "numeric", "double", "real")):
        return NUMERIC
    if t.startswith(("text", "character")):
        return STRING
    if t == "boolean":
        return BOOLEAN
    return None


def connect(d):
    api = admin()
    with open(os.environ["BI_PG_PASSWORD_FILE"], encoding="utf-8") as f:
        password = f.read().strip()
    # a password in a SQLAlchemy URI is URL-encoded; Superset's sessions run
    # in UTC, as Superset presumes every time is (see docs/bi-superset.md)
    uri = "postgresql+psycopg2://%s:%s@%s:%s/%s" % (
        urllib.parse.quote(os.environ["BI_PG_USER"], safe=""), urllib.parse.quote(password, safe=""),
        os.environ["BI_PG_HOST"], os.environ["BI_PG_PORT"], os.environ["BI_PG_DATABASE"])
    extra = json.dumps({"engine_params": {"connect_args": {"options": "-c TimeZone=UTC"}}})
    body = {"database_name": "ecsync", "sqlalchemy_uri": uri, "extra": extra}
    print("test connection:", api.call("POST", "/api/v1/database/test_connection/", body)["message"])
    db = api.call("POST", "/api/v1/database/", body)["id"]

    # what Superset lists in the schema, each made a dataset
    q = urllib.parse.quote("(schema_name:%s,force:!t)" % SCHEMA)
    listed = sorted(t["value"] for t in api.call("GET", "/api/v1/database/%d/tables/?q=%s" % (db, q))["result"])
    catalog = collections.defaultdict(list)
    for rel, col, typ in rows(os.path.join(d, "catalog.tsv")):
        catalog[rel].append((col, typ))
    if listed != sorted(catalog):
        fail("Superset lists %s in %s, the catalog has %s" % (listed, SCHEMA, sorted(catalog)))
    datasets, bad = {}, []
    for rel in listed:
        ds = api.call("POST", "/api/v1/dataset/", {"database": db, "schema": SCHEMA, "table_name": rel})["id"]
        datasets[rel] = ds
        cols = {c["column_name"]: c for c in api.call("GET", "/api/v1/dataset/%d" % ds)["result"]["columns"]}
        if sorted(cols) != sorted(c for c, _ in catalog[rel]):
            bad.append("%s: Superset's columns %s, the catalog's %s" % (rel, sorted(cols), sorted(c for c, _ in catalog[rel])))
            continue
        for col, typ in catalog[rel]:
            c = cols[col]
            want = generic_of(typ)
            if c.get("type_generic") is None or c["type_generic"] != want or c["is_dttm"] != (want == TEMPORAL):
                bad.append("%s.%s (%s): Superset typed it %s, generic %s, is_dttm %s"
                           % (rel, col, typ, c.get("type"), c.get("type_generic"), c["is_dttm"]))
    if bad:
        fail("columns Superset cannot type as it should:\n  " + "\n  ".join(bad))
    n = sum(len(v) for v in catalog.values())
    print("%d datasets, %d columns, each typed (numeric, string, temporal with is_dttm, boolean)" % (len(datasets), n))

    # the shop's foreign keys, as Superset reads them from the catalog
    want = sorted(tuple(r) for r in rows(os.path.join(d, "fks.tsv")))
    seen = set()
    for table in sorted({r[0] for r in want}):
        q = "name=%s&schema=%s" % (urllib.parse.quote(table), urllib.parse.quote(SHOP))
        meta = api.call("GET", "/api/v1/database/%d/table_metadata/?%s" % (db, q))
        for fk in meta.get("foreignKeys", []):
            seen.add((table, ",".join(fk["column_names"]), fk["referred_table"], ",".join(fk["referred_columns"])))
    if sorted(seen) != want:
        fail("foreign keys Superset shows: %s, PostgreSQL has %s" % (sorted(seen), want))
    print("foreign keys Superset shows: " + ", ".join("%s.%s -> %s.%s" % k for k in sorted(seen)))
    save_state(d, {"database": db, "datasets": datasets})


# ---------------------------------------------------------------- charts

def metric(col, agg, label):
    return {"expressionType": "SIMPLE", "column": {"column_name": col}, "aggregate": agg, "label": label}


def where(col, op, value):
    return {"expressionType": "SIMPLE", "clause": "WHERE", "subject": col, "operator": op, "comparator": value}


def query_filter(f):
    return {"col": f["subject"], "op": f["operator"], "val": f["comparator"]}


def day_ms(d):
    return int(dt.datetime.combine(d, dt.time(), dt.timezone.utc).timestamp() * 1000)


def windows(d):
    """the time ranges the charts show, from the data: the last 90 business
    days, the two hours before the newest page view, the newest month"""
    days = sorted(dt.date.fromisoformat(r[0]) for r in rows(os.path.join(d, "expected", "sales_daily")))
    last = days[-1]
    newest = max(dt.datetime.fromisoformat(e["viewed_at"]) for e in page_views(d))
    end = newest.astimezone(dt.timezone.utc).replace(second=0, microsecond=0, tzinfo=None) + dt.timedelta(minutes=1)
    month = last.replace(day=1)
    nxt = (month + dt.timedelta(days=32)).replace(day=1)
    return {"days": (last - dt.timedelta(days=89), last + dt.timedelta(days=1)),
            "minutes": (end - dt.timedelta(hours=2), end), "month": (month, nxt)}


def trange(a, b):
    return "%s : %s" % (a.isoformat(), b.isoformat())


def specs(d, ds):
    """the charts the shop's team needs: (name, dataset, viz_type, form data,
    query), in Superset's own vocabulary; every filter and metric a column's"""
    w = windows(d)
    revenue = metric("revenue", "SUM", "revenue")
    out = []

    f = [where("business_day", "TEMPORAL_RANGE", trange(*w["days"]))]
    out.append(("Daily sales (revenue, last 90 business days)", "sales_daily", "echarts_timeseries_line",
                {"x_axis": "business_day", "time_grain_sqla": "P1D", "metrics": [revenue], "groupby": [],
                 "adhoc_filters": f, "row_limit": 10000, "show_legend": False, "x_axis_time_format": "%Y-%m-%d",
                 "y_axis_format": "SMART_NUMBER", "markerEnabled": True, "markerSize": 3},
                {"columns": [{"timeGrain": "P1D", "columnType": "BASE_AXIS", "sqlExpression": "business_day",
                              "label": "business_day", "expressionType": "SQL"}],
                 "metrics": [revenue], "orderby": [[revenue, True]], "row_limit": 10000,
                 "filters": [query_filter(x) for x in f]}))

    out.append(("Sales by category", "segment_sales", "pie",
                {"groupby": ["category"], "metric": revenue, "adhoc_filters": [], "row_limit": 100,
                 "sort_by_metric": True, "show_labels": True, "label_type": "key_percent", "show_legend": True,
                 "number_format": "SMART_NUMBER", "donut": True},
                {"columns": ["category"], "metrics": [revenue], "orderby": [[revenue, False]], "row_limit": 100,
                 "filters": []}))

    f = [where("viewed_at", "TEMPORAL_RANGE", trange(*w["minutes"]))]
    out.append(("Page views per minute by page kind (UTC, the two hours before the newest view)", "page_views",
                "echarts_timeseries_line",
                {"x_axis": "viewed_at", "time_grain_sqla": "PT1M", "metrics": ["count"], "groupby": ["page_kind"],
                 "adhoc_filters": f, "row_limit": 10000, "show_legend": True, "x_axis_time_format": "%H:%M"},
                {"columns": [{"timeGrain": "PT1M", "columnType": "BASE_AXIS", "sqlExpression": "viewed_at",
                              "label": "viewed_at", "expressionType": "SQL"}, "page_kind"],
                 "series_columns": ["page_kind"], "metrics": ["count"], "orderby": [["count", False]],
                 "row_limit": 10000, "filters": [query_filter(x) for x in f]}))

    cols = ["segment", "product_users", "cart_users", "checkout_users", "complete_users", "conversion_pct"]
    f = [where("segment_kind", "IN", ["all", "age_band"])]
    out.append(("Conversion: product page to purchase, by age band", "funnel", "table",
                {"query_mode": "raw", "all_columns": cols, "order_by_cols": [json.dumps(["segment", True])],
                 "adhoc_filters": f, "row_limit": 100, "server_pagination": False, "include_search": False},
                {"columns": cols, "metrics": [], "orderby": [["segment", True]], "row_limit": 100,
                 "filters": [query_filter(x) for x in f]}))

    cols = ["revenue_rank", "product_id", "product", "category", "quantity", "revenue", "revenue_change_pct"]
    f = [where("period", "==", "month"), where("period_start", "TEMPORAL_RANGE", trange(*w["month"])),
         where("revenue_rank", "<=", 10)]
    out.append(("Top products of %s (by revenue)" % w["month"][0].strftime("%B %Y"), "product_ranking", "table",
                {"query_mode": "raw", "all_columns": cols, "order_by_cols": [json.dumps(["revenue_rank", True])],
                 "adhoc_filters": f, "row_limit": 100, "server_pagination": False, "include_search": False},
                {"columns": cols, "metrics": [], "orderby": [["revenue_rank", True]], "row_limit": 100,
                 "filters": [query_filter(x) for x in f]}))
    return out


def save_chart(api, ds, name, viz, form, query, dashboard):
    form = dict(form, viz_type=viz, datasource="%d__table" % ds)
    query = dict(query, extras={"having": "", "where": ""}, annotation_layers=[], applied_time_extras={},
                 url_params={}, custom_params={}, custom_form_data={}, time_offsets=[], post_processing=[])
    qc = {"datasource": {"id": ds, "type": "table"}, "force": False, "queries": [query], "form_data": form,
          "result_format": "json", "result_type": "full"}
    return api.call("POST", "/api/v1/chart/", {
        "slice_name": name, "viz_type": viz, "datasource_id": ds, "datasource_type": "table",
        "params": json.dumps(form), "query_context": json.dumps(qc), "dashboards": [dashboard]})["id"]


def layout(title, charts, widths):
    """position_json: rows of charts (width of 12 columns each)"""
    pos = {"DASHBOARD_VERSION_KEY": "v2",
           "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
           "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
           "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": title}}}
    i = 0
    for r, row in enumerate(widths):
        rid = "ROW-%d" % r
        pos["GRID_ID"]["children"].append(rid)
        pos[rid] = {"type": "ROW", "id": rid, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                    "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for width, height in row:
            cid, name = charts[i]
            key = "CHART-%d" % cid
            pos[rid]["children"].append(key)
            pos[key] = {"type": "CHART", "id": key, "children": [], "parents": ["ROOT_ID", "GRID_ID", rid],
                        "meta": {"width": width, "height": height, "chartId": cid, "sliceName": name}}
            i += 1
    return pos


def make_dashboard(api, title, slug, charts, widths):
    dash = api.call("POST", "/api/v1/dashboard/", {"dashboard_title": title, "slug": slug, "published": True})["id"]
    ids = [(save_chart(api, *c, dashboard=dash), c[0]) for c in charts]
    api.call("PUT", "/api/v1/dashboard/%d" % dash, {
        "position_json": json.dumps(layout(title, ids, widths)),
        "json_metadata": json.dumps({"color_scheme": "supersetColors", "refresh_frequency": 0,
                                     "expanded_slices": {}, "label_colors": {}, "timed_refresh_immune_slices": []})})
    return dash, [i for i, _ in ids]


def charts(d):
    api = admin()
    state = load_state(d)
    ds = state["datasets"]
    made = [(ds[t], name, viz, form, query) for name, t, viz, form, query in specs(d, ds)]
    # every metric and filter is a column's: no SQL of ours
    for _, name, _, form, _ in made:
        for m in form.get("metrics", []) + [form.get("metric")] + form.get("adhoc_filters", []):
            if isinstance(m, dict) and m.get("expressionType") != "SIMPLE":
                fail("chart %s has custom SQL: %s" % (name, m))
    dash, ids = make_dashboard(api, "Shop: sales and traffic", "shop", made, [[(8, 50), (4, 50)], [(6, 50), (6, 50)], [(12, 50)]])
    state["dashboard"], state["charts"] = dash, dict(zip([m[1] for m in made], ids))
    state["chart_kinds"] = dict(zip([m[1] for m in made], ["daily", "category", "minutes", "conversion", "top"]))
    # a dashboard the test's browser check must find fault with: a chart
    # that has no data and one whose column does not exist
    w = windows(d)
    empty = [where("viewed_at", "TEMPORAL_RANGE", "2001-01-01T00:00:00 : 2001-01-02T00:00:00")]
    canary = [(ds["page_views"], "No data on purpose", "echarts_timeseries_line",
               {"x_axis": "viewed_at", "time_grain_sqla": "PT1M", "metrics": ["count"], "groupby": [],
                "adhoc_filters": empty, "row_limit": 100},
               {"columns": [{"timeGrain": "PT1M", "columnType": "BASE_AXIS", "sqlExpression": "viewed_at",
                             "label": "viewed_at", "expressionType": "SQL"}], "metrics": ["count"],
                "orderby": [], "row_limit": 100, "filters": [query_filter(x) for x in empty]}),
              (ds["sales_daily"], "Error on purpose", "pie",
               {"groupby": ["no_such_column"], "metric": metric("revenue", "SUM", "revenue"), "adhoc_filters": [],
                "row_limit": 10},
               {"columns": ["no_such_column"], "metrics": [metric("revenue", "SUM", "revenue")], "orderby": [],
                "row_limit": 10, "filters": []}),
              (ds["sales_daily"], "Data on purpose", "pie",
               {"groupby": ["business_day"], "metric": metric("orders", "SUM", "orders"), "adhoc_filters":
                [where("business_day", "TEMPORAL_RANGE", trange(w["days"][1] - dt.timedelta(days=3), w["days"][1]))],
                "row_limit": 10},
               {"columns": ["business_day"], "metrics": [metric("orders", "SUM", "orders")], "orderby": [],
                "row_limit": 10, "filters": [{"col": "business_day", "op": "TEMPORAL_RANGE",
                                              "val": trange(w["days"][1] - dt.timedelta(days=3), w["days"][1])}]})]
    state["canary"], state["canary_charts"] = make_dashboard(api, "Canary", "canary", canary, [[(4, 40), (4, 40), (4, 40)]])
    save_state(d, state)
    print("dashboard %d with charts %s; canary dashboard %d" % (dash, ids, state["canary"]))


# ---------------------------------------------------------------- figures

def page_views(d):
    with open(os.path.join(d, "page_views.jsonl"), encoding="utf-8") as f:
        return [json.loads(line.split("\t", 1)[1]) for line in f if line.strip()]


def num(x):
    """a number as Superset's JSON gives it (float) and as the expected
    figures have it (decimal text), the same to the cent"""
    return D(str(x)).quantize(D("0.01"))


def expected_figures(d):
    e = os.path.join(d, "expected")
    w = windows(d)
    out = {}
    a, b = w["days"]
    out["daily"] = sorted("%d|%s" % (day_ms(dt.date.fromisoformat(r[0])), num(r[2]))
                          for r in rows(os.path.join(e, "sales_daily")) if a <= dt.date.fromisoformat(r[0]) < b)
    cat = collections.defaultdict(D)
    for r in rows(os.path.join(e, "segment_sales")):
        cat[r[3]] += D(r[7])
    out["category"] = sorted("%s|%s" % (k, num(v)) for k, v in cat.items())
    a, b = w["minutes"]
    per = collections.Counter()
    for ev in page_views(d):
        at = dt.datetime.fromisoformat(ev["viewed_at"]).astimezone(dt.timezone.utc).replace(tzinfo=None)
        if a <= at < b:
            minute = int(at.replace(second=0, microsecond=0, tzinfo=dt.timezone.utc).timestamp() * 1000)
            per[(minute, analytics_expected.page_kind(ev["page"]))] += 1
    out["minutes"] = sorted("%d|%s|%d" % (m, k, n) for (m, k), n in per.items())
    out["conversion"] = sorted("|".join(r[1:6] + [r[9]]) for r in rows(os.path.join(e, "funnel"))
                               if r[0] in ("all", "age_band"))
    month = w["month"][0].isoformat()
    out["top"] = sorted("%s|%s|%s|%s|%s" % (r[5], r[2], r[3], num(r[4]), r[10])
                        for r in rows(os.path.join(e, "product_ranking"))
                        if r[0] == "month" and r[1] == month and int(r[5]) <= 10)
    return out


def pct(x):
    return "" if x is None else str(num(x))


def superset_figure(kind, data):
    if kind == "daily":
        return sorted("%d|%s" % (r["business_day"], num(r["revenue"])) for r in data)
    if kind == "category":
        return sorted("%s|%s" % (r["category"], num(r["revenue"])) for r in data)
    if kind == "minutes":
        return sorted("%d|%s|%d" % (r["viewed_at"], r["page_kind"], r["count"]) for r in data)
    if kind == "conversion":
        return sorted("|".join(str(r[c]) for c in ("segment", "product_users", "cart_users",
                                                     "checkout_users", "complete_users")) + "|" + pct(r["conversion_pct"])
                      for r in data)
    return sorted("%s|%s|%s|%s|%s" % (r["revenue_rank"], r["product_id"], r["quantity"], num(r["revenue"]),
                                      pct(r["revenue_change_pct"])) for r in data)


def figures(d):
    api = admin()
    state = load_state(d)
    want = expected_figures(d)
    bad = 0
    for name, cid in state["charts"].items():
        kind = state["chart_kinds"][name]
        res = api.call("GET", "/api/v1/chart/%d/data/?force=true" % cid)["result"]
        if len(res) != 1 or res[0].get("error") or res[0].get("status") != "success":
            fail("chart %s: %s" % (name, json.dumps(res)[:600]))
        got = superset_figure(kind, res[0]["data"])
        if not want[kind]:
            fail("no expected rows for chart %s" % name)
        if got == want[kind]:
            print("%s: %d rows equal" % (name, len(got)))
        else:
            bad = 1
            print("%s differs (expected -, Superset +):" % name)
            for line in sorted(set(want[kind]) - set(got))[:6]:
                print("  - " + line)
            for line in sorted(set(got) - set(want[kind]))[:6]:
                print("  + " + line)
            print("  query: " + res[0].get("query", "").replace("\n", " ")[:500])
    if bad:
        fail("Superset's figures differ from the independent computation")


# ---------------------------------------------------------------- browser

TEAM_USER = "shop"


def team_user(d):
    """a user of the shop's team: Gamma (Superset's read-only role) and
    access to the ecsync database, no more"""
    api = admin()
    state = load_state(d)
    pw_file = os.path.join(d, "team-password")
    if "team_user" in state:
        with open(pw_file, encoding="utf-8") as f:
            return f.read().strip()
    password = "team-" + os.urandom(9).hex()
    old = os.umask(0o077)
    with open(pw_file, "w", encoding="utf-8") as f:
        f.write(password)
    os.umask(old)
    role = api.call("POST", "/api/v1/security/roles/", {"name": "shop_team"})["id"]
    pvm, page = None, 0
    while pvm is None:
        q = urllib.parse.quote("(page:%d,page_size:100)" % page)
        res = api.call("GET", "/api/v1/security/permissions-resources/?q=" + q)["result"]
        if not res:
            fail("no database_access permission for the ecsync database")
        for p in res:
            if p["permission"]["name"] == "database_access" and p["view_menu"]["name"].startswith("[ecsync]"):
                pvm = p["id"]
        page += 1
    api.call("POST", "/api/v1/security/roles/%d/permissions" % role, {"permission_view_menu_ids": [pvm]})
    q = urllib.parse.quote("(filters:!((col:name,opr:eq,value:Gamma)))")
    gamma = api.call("GET", "/api/v1/security/roles/?q=" + q)["result"][0]["id"]
    uid = api.call("POST", "/api/v1/security/users/", {
        "active": True, "email": "team@shop.example", "first_name": "Shop", "last_name": "Team",
        "username": TEAM_USER, "password": password, "roles": [gamma, role]})["id"]
    state["team_user"] = uid
    save_state(d, state)
    return password


def chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = os.environ.get("BI_CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1600,1200",
              "--lang=en-US", "--hide-scrollbars", "--force-device-scale-factor=1"):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(os.environ.get("BI_CHROMEDRIVER", "/usr/bin/chromedriver")), options=o)


def login(driver, password):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    driver.get(URL + "/login/")
    t0 = time.time()
    while True:
        fields = driver.find_elements(By.CSS_SELECTOR, "input[name=username], input#username")
        if fields:
            break
        if time.time() - t0 > 60:
            fail("no login form at %s/login/" % URL)
        time.sleep(0.3)
    fields[0].send_keys(TEAM_USER)
    pw = driver.find_elements(By.CSS_SELECTOR, "input[name=password], input#password, input[type=password]")[0]
    pw.send_keys(password)
    pw.send_keys(Keys.ENTER)
    while "/login" in driver.current_url:
        if time.time() - t0 > 60:
            fail("the login of %s did not go through (still at %s)" % (TEAM_USER, driver.current_url))
        time.sleep(0.3)
    print("logged in as %s (%s)" % (TEAM_USER, driver.current_url))


# what each chart holder shows once it is done: an error, no data, or a chart
CHECK_JS = """
return Array.from(document.querySelectorAll('.dashboard-component-chart-holder')).map(function (h) {
  var text = (h.innerText || '');
  var title = h.querySelector('[data-test="editable-title"], .header-title, [data-test="slice-header"]');
  var loading = h.querySelector('.loading, [aria-label="Loading"], [data-test="loading-indicator"]');
  var error = h.querySelector('.alert-danger, .ant-alert-error, [data-test="error-message"], [role="alert"]');
  var drawn = h.querySelector('table') ? h.querySelectorAll('table tbody tr').length
                                       : h.querySelectorAll('canvas, svg path').length;
  return {title: title ? title.innerText.trim() : text.split('\\n')[0], loading: !!loading, error: !!error,
          empty: /No results|No data/i.test(text), drawn: drawn, text: text.slice(0, 300)};
});
"""


# where the dashboard's last chart ends (the page itself scrolls inside)
BOTTOM_JS = """
return Math.max.apply(null, Array.from(document.querySelectorAll('.dashboard-component-chart-holder'))
  .map(function (h) { return h.getBoundingClientRect().bottom + window.scrollY; }));
"""


def check_dashboard(driver, dash, n, timeout=120):
    """open a dashboard; return each chart's verdict once all are done"""
    driver.get(URL + "/superset/dashboard/%d/" % dash)
    t0, last = time.time(), []
    while time.time() - t0 < timeout:
        last = driver.execute_script(CHECK_JS)
        done = [c for c in last if not c["loading"] and (c["error"] or c["empty"] or c["drawn"] > 0)]
        if len(last) == n and len(done) == n:
            time.sleep(2)  # the charts' animations
            last = driver.execute_script(CHECK_JS)
            break
        time.sleep(0.5)
    else:
        fail("dashboard %d: not every chart was done after %d s: %s" % (dash, timeout, json.dumps(last)[:1500]))
    out = []
    for c in last:
        if c["error"] or re.search(r"error|unexpected|unable", c["text"], re.I):
            out.append((c["title"], "error", c["text"].replace("\n", " ")[:160]))
        elif c["empty"] or c["drawn"] == 0:
            out.append((c["title"], "no data", c["text"].replace("\n", " ")[:160]))
        else:
            out.append((c["title"], "ok", "%d marks" % c["drawn"]))
    return out


def small_png(src, dst):
    """the screenshot as a palette PNG (Pillow is one of Superset's packages)"""
    from PIL import Image
    img = Image.open(src).convert("RGB")
    img.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dst, optimize=True)


def browser(d, png):
    state = load_state(d)
    password = team_user(d)
    driver = chrome()
    try:
        login(driver, password)
        # the canary first: the check must see what is wrong with it
        verdict = check_dashboard(driver, state["canary"], 3)
        print("canary dashboard: " + "; ".join("%s: %s" % (t, v) for t, v, _ in verdict))
        got = sorted((t, v) for t, v, _ in verdict)
        if got != [("Data on purpose", "ok"), ("Error on purpose", "error"), ("No data on purpose", "no data")]:
            fail("the browser check misjudged the canary dashboard: %s" % verdict)
        verdict = check_dashboard(driver, state["dashboard"], len(state["charts"]))
        for t, v, why in verdict:
            print("  %-70s %s (%s)" % (t, v, why))
        bad = [x for x in verdict if x[1] != "ok"]
        names = sorted(t for t, _, _ in verdict)
        if names != sorted(state["charts"]):
            fail("the dashboard shows %s, not the charts %s" % (names, sorted(state["charts"])))
        # the whole dashboard in one picture
        # (a taller window lays the page out anew: until its end fits)
        for _ in range(4):
            height = min(max(int(driver.execute_script(BOTTOM_JS)) + 24, 900), 2400)
            if height <= driver.execute_script("return window.innerHeight"):
                break
            driver.set_window_size(1600, height + 140)
            time.sleep(2)
        raw = os.path.join(d, "dashboard-raw.png")
        driver.save_screenshot(raw)
        small_png(raw, png)
        print("screenshot: %s (%d bytes)" % (png, os.path.getsize(png)))
        if bad:
            fail("charts with an error or no data on the dashboard: %s" % bad)
    finally:
        driver.quit()


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "connect":
        connect(sys.argv[2])
    elif cmd == "charts":
        charts(sys.argv[2])
    elif cmd == "figures":
        figures(sys.argv[2])
    elif cmd == "browser":
        browser(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
