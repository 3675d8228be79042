/* ecsync 0.4 -> 0.5: the shop team's product.
 *
 * - ecsync_create_analytics() builds the "analytics" schema Metabase charts
 *   with no custom SQL: sales by business day (Asia/Tokyo), week and month,
 *   rankings with the change against the previous period, customer
 *   segments, page-view traffic, the funnel, users active in the last five
 *   minutes and the pages buyers saw before buying;
 * - its materialized rollups are refreshed by every batch run of their
 *   owner, in the run's own transaction (ecsync.analytics_layers);
 * - server option datetime_zone: MySQL DATETIME values are wall-clock
 *   times of that zone and arrive as timestamptz;
 * - MySQL foreign keys among registered tables are carried over NOT VALID
 *   (the batch worker does that, see foreign_keys.c).
 */
\echo Use "ALTER EXTENSION ecsync UPDATE TO '0.5'" to load this file. \quit

---------------------------------------------------------------- catalog

CREATE TABLE ecsync.analytics_layers (
    schema_name     name PRIMARY KEY,
    owner           oid NOT NULL,
    shop_schema     name NOT NULL,
    page_views      text,
    business_zone   text NOT NULL,
    matviews        text[] NOT NULL,
    refresh_with_runs boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    refreshed_at    timestamptz,
    refresh_seconds double precision,
    last_error      text,
    last_error_at   timestamptz
);
COMMENT ON TABLE ecsync.analytics_layers IS
  'analytics schemas made by ecsync_create_analytics(); their materialized views (matviews, in refresh order) '
  'are refreshed at the end of every batch run of their owner';
ALTER TABLE ecsync.analytics_layers ENABLE ROW LEVEL SECURITY;
CREATE POLICY analytics_layers_of_owner ON ecsync.analytics_layers FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));
GRANT SELECT ON ecsync.analytics_layers TO PUBLIC;

-- the layer of that schema, locked, after checking the caller may change
-- it (no row: none yet)
CREATE FUNCTION ecsync.lock_analytics_layer(caller oid, layer text)
RETURNS ecsync.analytics_layers
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev ecsync.analytics_layers;
BEGIN
    SELECT * INTO prev FROM ecsync.analytics_layers l WHERE l.schema_name = layer FOR UPDATE;
    IF FOUND THEN
        PERFORM ecsync.check_owner(caller, prev.owner, format('the analytics layer %I', prev.schema_name));
    END IF;
    RETURN prev;
END
$$;

CREATE FUNCTION ecsync.catalog_register_analytics(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ecsync.check_login(caller);
    PERFORM ecsync.lock_analytics_layer(caller, a->>'schema_name');
    -- the schema is the caller's: made by them, or theirs to use
    IF NOT pg_catalog.has_schema_privilege(caller, (a->>'schema_name')::name, 'CREATE') THEN
        RAISE EXCEPTION 'permission denied for schema %', a->>'schema_name'
              USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- (created populated: refreshed now)
    INSERT INTO ecsync.analytics_layers AS l (schema_name, owner, shop_schema, page_views, business_zone, matviews,
                                              refresh_with_runs, refreshed_at)
    VALUES (a->>'schema_name', caller, a->>'shop_schema', a->>'page_views', a->>'business_zone',
            ARRAY(SELECT jsonb_array_elements_text(a->'matviews')), (a->>'refresh_with_runs')::boolean, now())
    ON CONFLICT (schema_name) DO UPDATE
       SET owner = excluded.owner, shop_schema = excluded.shop_schema, page_views = excluded.page_views,
           business_zone = excluded.business_zone, matviews = excluded.matviews,
           refresh_with_runs = excluded.refresh_with_runs, created_at = now(),
           refreshed_at = now(),
           last_error = NULL, last_error_at = NULL;
    RETURN 'true'::jsonb;
END
$$;

CREATE FUNCTION ecsync.catalog_analytics_refreshed(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev ecsync.analytics_layers;
BEGIN
    prev := ecsync.lock_analytics_layer(caller, a->>'schema_name');
    IF prev.schema_name IS NULL THEN
        RETURN 'false'::jsonb;
    END IF;
    IF a->>'error' IS NULL THEN
        UPDATE ecsync.analytics_layers SET refreshed_at = now(), refresh_seconds = (a->>'seconds')::float8,
               last_error = NULL, last_error_at = NULL
         WHERE schema_name = prev.schema_name;
    ELSE
        UPDATE ecsync.analytics_layers SET last_error = a->>'error', last_error_at = now()
         WHERE schema_name = prev.schema_name;
    END IF;
    RETURN 'true'::jsonb;
END
$$;

REVOKE ALL ON FUNCTION ecsync.lock_analytics_layer(oid, text),
                       ecsync.catalog_register_analytics(oid, jsonb),
                       ecsync.catalog_analytics_refreshed(oid, jsonb)
  FROM PUBLIC;

---------------------------------------------------------------- analytics

/*
 * ecsync_create_analytics builds (or rebuilds) the analytics schema over the
 * synced shop tables and the page-view stream target, as the caller, who
 * owns what it makes.  How each object is kept current:
 *   - views over the page views (traffic, funnel, active users): the stream
 *     commits every second or so, so a view is current by construction;
 *   - materialized rollups of the shop tables (sales_daily, orders_by_status,
 *     product_sales_daily, the rankings, segment_sales, pages_before_purchase):
 *     the shop tables change only when a batch run commits, so the run
 *     refreshes them in its own transaction (ecsync_refresh_analytics) and
 *     Metabase sees the new rows and the new figures together;
 *   - views on those rollups (weekly, monthly): as fresh as the rollups.
 */
CREATE FUNCTION ecsync_create_analytics(
    shop_schema      name DEFAULT 'shop',
    page_views       regclass DEFAULT NULL,
    business_zone    text DEFAULT 'Asia/Tokyo',
    analytics_schema name DEFAULT 'analytics',
    refresh_with_runs boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
SET work_mem = '256MB'
AS $fn$
DECLARE
    a text := quote_ident(analytics_schema);
    s text := quote_ident(shop_schema);
    pv regclass := coalesce(page_views, to_regclass(quote_ident(shop_schema) || '.page_views'));
    z text := quote_literal(business_zone);
    sold text;
    registered text;
    paid text := $$s.status::text IN ('paid', 'shipped')$$;
    matviews text[] := ARRAY['sales_daily', 'orders_by_status', 'product_sales_daily', 'product_ranking',
                             'category_ranking', 'segment_sales', 'pages_before_purchase'];
    t text;
    n integer;
BEGIN
    IF business_zone IS NULL OR NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = business_zone) THEN
        RAISE EXCEPTION 'unknown time zone "%"', business_zone
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'Name the zone of the shop''s business day as pg_timezone_names does, e.g. Asia/Tokyo.';
    END IF;
    FOREACH t IN ARRAY ARRAY['users', 'products', 'sales', 'sales_details'] LOOP
        IF to_regclass(s || '.' || quote_ident(t)) IS NULL THEN
            RAISE EXCEPTION 'table %.% does not exist', shop_schema, t
                  USING ERRCODE = 'undefined_table',
                        HINT = 'Sync the shop first: ecsync_register_shop(...), then ecsync_run_batch().';
        END IF;
    END LOOP;
    IF pv IS NULL THEN
        RAISE EXCEPTION 'no page-view table: %.page_views does not exist', shop_schema
              USING ERRCODE = 'undefined_table',
                    HINT = 'Register the page-view stream (ecsync_register_stream) or name its table in page_views.';
    END IF;
    -- DATETIME arrives as timestamptz with the server option datetime_zone,
    -- as timestamp (Tokyo wall-clock time) without it: both become instants
    sold := CASE WHEN (SELECT atttypid FROM pg_attribute
                        WHERE attrelid = to_regclass(s || '.sales') AND attname = 'sold_at') = 'timestamptz'::regtype
                 THEN 's.sold_at' ELSE format('(s.sold_at AT TIME ZONE %s)', z) END;
    registered := CASE WHEN (SELECT atttypid FROM pg_attribute
                              WHERE attrelid = to_regclass(s || '.users') AND attname = 'created_at') = 'timestamptz'::regtype
                       THEN 'u.created_at' ELSE format('(u.created_at AT TIME ZONE %s)', z) END;

    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %s', a);
    EXECUTE format('COMMENT ON SCHEMA %s IS %L', a,
                   'ecsync analytics over ' || shop_schema || ' and ' || pv::text || ', business day in ' || business_zone);
    -- rebuilt from scratch: what an earlier call made goes first
    FOREACH t IN ARRAY ARRAY['pages_before_purchase', 'segment_sales', 'category_ranking', 'product_ranking',
                             'product_sales_daily', 'orders_by_status', 'sales_daily'] LOOP
        EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %s.%I CASCADE', a, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['orders', 'order_lines', 'customers', 'customer_segments', 'sales_weekly',
                             'sales_monthly', 'page_views', 'page_traffic_hourly', 'funnel', 'active_users'] LOOP
        EXECUTE format('DROP VIEW IF EXISTS %s.%I CASCADE', a, t);
    END LOOP;
    EXECUTE format('DROP FUNCTION IF EXISTS %s.age_band(integer), %s.page_kind(text), %s.business_day(timestamptz), '
                   '%s.previous_period(text, date)', a, a, a, a);

    -- helpers: the segment and page vocabulary every object shares
    EXECUTE format($$CREATE FUNCTION %s.age_band(age integer) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN CASE WHEN age IS NULL THEN 'unknown' WHEN age < 20 THEN '-19' WHEN age < 30 THEN '20-29'
                    WHEN age < 40 THEN '30-39' WHEN age < 50 THEN '40-49' WHEN age < 60 THEN '50-59'
                    ELSE '60+' END$$, a);
    EXECUTE format($$CREATE FUNCTION %s.page_kind(page text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN CASE WHEN page = '/' THEN 'home' WHEN page LIKE '/category/%%' THEN 'category'
                    WHEN page LIKE '/products/%%' THEN 'product' WHEN page LIKE '/search%%' THEN 'search'
                    WHEN page = '/cart' THEN 'cart' WHEN page = '/checkout' THEN 'checkout'
                    WHEN page = '/checkout/complete' THEN 'complete' WHEN page LIKE '/mypage%%' THEN 'mypage'
                    ELSE 'other' END$$, a);
    EXECUTE format($$CREATE FUNCTION %s.previous_period(period text, period_start date) RETURNS date
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN CASE period WHEN 'week' THEN period_start - 7
                           ELSE (period_start - interval '1 month')::date END$$, a);
    EXECUTE format($$CREATE FUNCTION %s.business_day(t timestamptz) RETURNS date
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN (t AT TIME ZONE %s)::date$$, a, z);

    ------------------------------------------------------------ shop: views
    EXECUTE format($$CREATE VIEW %1$s.orders AS
        SELECT s.id::bigint AS order_id, s.user_id::bigint AS user_id, %3$s AS sold_at,
               %1$s.business_day(%3$s) AS business_day, s.status::text AS status, s.total,
               %4$s AS counts_as_sale
          FROM %2$s.sales s$$, a, s, sold, paid);
    EXECUTE format($$CREATE VIEW %1$s.order_lines AS
        SELECT d.id::bigint AS line_id, d.sale_id::bigint AS order_id, d.product_id::bigint AS product_id,
               p.name::text AS product, p.category::text AS category, d.quantity::integer AS quantity,
               d.unit_price, d.quantity * d.unit_price AS amount
          FROM %2$s.sales_details d LEFT JOIN %2$s.products p ON p.id = d.product_id$$, a, s);
    EXECUTE format($$CREATE VIEW %1$s.customers AS
        SELECT u.id::bigint AS user_id, u.name::text AS name, u.age::integer AS age,
               %1$s.age_band(u.age::integer) AS age_band, coalesce(u.gender::text, 'unknown') AS gender,
               coalesce(u.occupation::text, 'unknown') AS occupation, %3$s AS registered_at
          FROM %2$s.users u$$, a, s, registered);
    EXECUTE format($$CREATE VIEW %1$s.customer_segments AS
        SELECT age_band, gender, occupation, count(*) AS customers
          FROM %1$s.customers GROUP BY 1, 2, 3$$, a);

    ------------------------------------------------------------ shop: rollups
    EXECUTE format($$CREATE MATERIALIZED VIEW %1$s.sales_daily AS
        WITH items AS (SELECT d.sale_id, sum(d.quantity)::bigint AS items FROM %2$s.sales_details d GROUP BY 1)
        SELECT %1$s.business_day(%3$s) AS business_day, count(*) AS orders, sum(s.total) AS revenue,
               coalesce(sum(i.items), 0)::bigint AS items, count(DISTINCT s.user_id) AS customers,
               round(sum(s.total) / count(*), 2) AS avg_order_value
          FROM %2$s.sales s LEFT JOIN items i ON i.sale_id = s.id
         WHERE %4$s
         GROUP BY 1$$, a, s, sold, paid);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.sales_daily (business_day)', a);
    EXECUTE format($$CREATE MATERIALIZED VIEW %1$s.orders_by_status AS
        SELECT %1$s.business_day(%3$s) AS business_day, s.status::text AS status,
               count(*) AS orders, sum(s.total) AS amount
          FROM %2$s.sales s GROUP BY 1, 2$$, a, s, sold);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.orders_by_status (business_day, status)', a);
    EXECUTE format($$CREATE VIEW %1$s.sales_weekly AS
        SELECT date_trunc('week', business_day)::date AS week_start, sum(orders)::bigint AS orders,
               sum(revenue) AS revenue, sum(items)::bigint AS items,
               round(sum(revenue) / sum(orders), 2) AS avg_order_value
          FROM %1$s.sales_daily GROUP BY 1$$, a);
    EXECUTE format($$CREATE VIEW %1$s.sales_monthly AS
        SELECT date_trunc('month', business_day)::date AS month_start, sum(orders)::bigint AS orders,
               sum(revenue) AS revenue, sum(items)::bigint AS items,
               round(sum(revenue) / sum(orders), 2) AS avg_order_value
          FROM %1$s.sales_daily GROUP BY 1$$, a);
    EXECUTE format($$CREATE MATERIALIZED VIEW %1$s.product_sales_daily AS
        SELECT %1$s.business_day(%3$s) AS business_day, d.product_id::bigint AS product_id,
               count(*) AS order_lines, sum(d.quantity)::bigint AS quantity,
               sum(d.quantity * d.unit_price) AS revenue
          FROM %2$s.sales_details d JOIN %2$s.sales s ON s.id = d.sale_id
         WHERE %4$s
         GROUP BY 1, 2$$, a, s, sold, paid);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.product_sales_daily (business_day, product_id)', a);
    -- rankings per week and month: a product (category) sold in a period,
    -- ranked in it, against its own figures of the period before (lag()
    -- over its periods: no self-join).  Weeks and months are two plain
    -- aggregates of the daily rollup, appended.  Per day,
    -- product_sales_daily has the figures.
    EXECUTE format($$CREATE MATERIALIZED VIEW %1$s.product_ranking AS
        WITH p AS (
            SELECT 'week'::text AS period, date_trunc('week', business_day)::date AS period_start, product_id,
                   sum(quantity)::bigint AS quantity, sum(revenue) AS revenue
              FROM %1$s.product_sales_daily GROUP BY 2, 3
            UNION ALL
            SELECT 'month', date_trunc('month', business_day)::date, product_id, sum(quantity)::bigint, sum(revenue)
              FROM %1$s.product_sales_daily GROUP BY 2, 3),
        l AS (
            SELECT p.*,
                   CASE WHEN lag(period_start) OVER w = %1$s.previous_period(period, period_start)
                        THEN lag(quantity) OVER w ELSE 0 END AS previous_quantity,
                   CASE WHEN lag(period_start) OVER w = %1$s.previous_period(period, period_start)
                        THEN lag(revenue) OVER w ELSE 0 END AS previous_revenue
              FROM p WINDOW w AS (PARTITION BY period, product_id ORDER BY period_start))
        SELECT l.period, l.period_start, l.product_id, pr.name::text AS product, pr.category::text AS category,
               l.quantity, l.revenue,
               rank() OVER (PARTITION BY l.period, l.period_start ORDER BY l.revenue DESC) AS revenue_rank,
               rank() OVER (PARTITION BY l.period, l.period_start ORDER BY l.quantity DESC) AS quantity_rank,
               l.previous_quantity, l.previous_revenue, l.revenue - l.previous_revenue AS revenue_change,
               round(100 * (l.revenue - l.previous_revenue) / nullif(l.previous_revenue, 0), 2) AS revenue_change_pct
          FROM l LEFT JOIN %2$s.products pr ON pr.id = l.product_id$$, a, s);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.product_ranking (period, period_start, product_id)', a);
    EXECUTE format($$CREATE MATERIALIZED VIEW %1$s.category_ranking AS
        WITH c AS (
            SELECT x.business_day, coalesce(pr.category::text, 'unknown') AS category,
                   sum(x.quantity)::bigint AS quantity, sum(x.revenue) AS revenue
              FROM %1$s.product_sales_daily x LEFT JOIN %2$s.products pr ON pr.id = x.product_id
             GROUP BY 1, 2),
        p AS (
            SELECT 'week'::text AS period, date_trunc('week', business_day)::date AS period_start, category,
                   sum(quantity)::bigint AS quantity, sum(revenue) AS revenue
              FROM c GROUP BY 2, 3
            UNION ALL
            SELECT 'month', date_trunc('month', business_day)::date, category, sum(quantity)::bigint, sum(revenue)
              FROM c GROUP BY 2, 3),
        l AS (
            SELECT p.*,
                   CASE WHEN lag(period_start) OVER w = %1$s.previous_period(period, period_start)
                        THEN lag(quantity) OVER w ELSE 0 END AS previous_quantity,
                   CASE WHEN lag(period_start) OVER w = %1$s.previous_period(period, period_start)
                        THEN lag(revenue) OVER w ELSE 0 END AS previous_revenue
              FROM p WINDOW w AS (PARTITION BY period, category ORDER BY period_start))
        SELECT l.period, l.period_start, l.category, l.quantity, l.revenue,
               rank() OVER (PARTITION BY l.period, l.period_start ORDER BY l.revenue DESC) AS revenue_rank,
               rank() OVER (PARTITION BY l.period, l.period_start ORDER BY l.quantity DESC) AS quantity_rank,
               l.previous_quantity, l.previous_revenue, l.revenue - l.previous_revenue AS revenue_change,
               round(100 * (l.revenue - l.previous_revenue) / nullif(l.previous_revenue, 0), 2) AS revenue_change_pct
          FROM l$$, a, s);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.category_ranking (period, period_start, category)', a);
    EXECUTE format($$CREATE MATERIALIZED VIEW %1$s.segment_sales AS
        SELECT %1$s.age_band(u.age::integer) AS age_band, coalesce(u.gender::text, 'unknown') AS gender,
               coalesce(u.occupation::text, 'unknown') AS occupation, coalesce(p.category::text, 'unknown') AS category,
               count(DISTINCT s.user_id) AS customers, count(DISTINCT s.id) AS orders,
               sum(d.quantity)::bigint AS quantity, sum(d.quantity * d.unit_price) AS revenue
          FROM %2$s.sales s
          JOIN %2$s.sales_details d ON d.sale_id = s.id
          LEFT JOIN %2$s.users u ON u.id = s.user_id
          LEFT JOIN %2$s.products p ON p.id = d.product_id
         WHERE %3$s
         GROUP BY 1, 2, 3, 4$$, a, s, paid);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.segment_sales (age_band, gender, occupation, category)', a);

    ------------------------------------------------------------ page views: views
    EXECUTE format($$CREATE VIEW %1$s.page_views AS
        SELECT v.user_id::bigint AS user_id, v.age::integer AS age, %1$s.age_band(v.age::integer) AS age_band,
               coalesce(v.gender::text, 'unknown') AS gender, coalesce(v.occupation::text, 'unknown') AS occupation,
               v.page::text AS page, %1$s.page_kind(v.page::text) AS page_kind, v.viewed_at
          FROM %2$s v$$, a, pv);
    EXECUTE format($$CREATE VIEW %1$s.page_traffic_hourly AS
        SELECT date_trunc('hour', v.viewed_at, %2$s) AS hour, v.page, v.page_kind,
               count(*) AS views, count(DISTINCT v.user_id) AS users
          FROM %1$s.page_views v GROUP BY 1, 2, 3$$, a, z);
    -- users who reached each step (in any order), overall and per segment
    EXECUTE format($$CREATE VIEW %1$s.funnel AS
        WITH steps AS (
            SELECT DISTINCT v.user_id, v.age_band, v.gender, v.occupation, v.page_kind AS step
              FROM %1$s.page_views v WHERE v.page_kind IN ('product', 'cart', 'checkout', 'complete')),
        f AS (
            SELECT k.segment_kind, k.segment,
                   count(DISTINCT user_id) FILTER (WHERE step = 'product') AS product_users,
                   count(DISTINCT user_id) FILTER (WHERE step = 'cart') AS cart_users,
                   count(DISTINCT user_id) FILTER (WHERE step = 'checkout') AS checkout_users,
                   count(DISTINCT user_id) FILTER (WHERE step = 'complete') AS complete_users
              FROM steps
             CROSS JOIN LATERAL (VALUES ('all', 'all'), ('age_band', age_band), ('gender', gender),
                                        ('occupation', occupation)) k(segment_kind, segment)
             GROUP BY 1, 2)
        SELECT f.*,
               round(100.0 * cart_users / nullif(product_users, 0), 2) AS product_to_cart_pct,
               round(100.0 * checkout_users / nullif(cart_users, 0), 2) AS cart_to_checkout_pct,
               round(100.0 * complete_users / nullif(checkout_users, 0), 2) AS checkout_to_complete_pct,
               round(100.0 * complete_users / nullif(product_users, 0), 2) AS conversion_pct
          FROM f$$, a);
    EXECUTE format($$CREATE VIEW %1$s.active_users AS
        SELECT now() - interval '5 minutes' AS since, count(DISTINCT v.user_id) AS users, count(*) AS views
          FROM %2$s v WHERE v.viewed_at > now() - interval '5 minutes'$$, a, pv);
    -- a sale and the page views of its buyer in the 24 hours before it
    EXECUTE format($$CREATE MATERIALIZED VIEW %1$s.pages_before_purchase AS
        SELECT v.page::text AS page, %1$s.page_kind(v.page::text) AS page_kind,
               count(DISTINCT s.id) AS orders, count(DISTINCT s.user_id) AS buyers
          FROM %2$s.sales s
          JOIN %3$s v ON v.user_id = s.user_id AND v.viewed_at < %4$s AND v.viewed_at >= %4$s - interval '24 hours'
         WHERE %5$s
         GROUP BY 1, 2$$, a, s, pv, sold, paid);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.pages_before_purchase (page)', a);

    ------------------------------------------------------------ descriptions Metabase shows
    EXECUTE format($$
        COMMENT ON VIEW %1$s.orders IS 'every order; counts_as_sale: paid or shipped (what revenue counts)';
        COMMENT ON VIEW %1$s.order_lines IS 'every order line with its product';
        COMMENT ON VIEW %1$s.customers IS 'customers with their segment: age band, gender, occupation';
        COMMENT ON VIEW %1$s.customer_segments IS 'customers per segment';
        COMMENT ON MATERIALIZED VIEW %1$s.sales_daily IS 'sales (paid or shipped orders) per business day: orders, revenue, items, customers, average order value; refreshed by each batch run';
        COMMENT ON MATERIALIZED VIEW %1$s.orders_by_status IS 'orders and their amount per business day and status; refreshed by each batch run';
        COMMENT ON VIEW %1$s.sales_weekly IS 'sales per week (Monday to Sunday, business days)';
        COMMENT ON VIEW %1$s.sales_monthly IS 'sales per month (business days)';
        COMMENT ON MATERIALIZED VIEW %1$s.product_sales_daily IS 'quantity and revenue per product and business day; refreshed by each batch run';
        COMMENT ON MATERIALIZED VIEW %1$s.product_ranking IS 'products ranked by revenue and quantity per week and month, with the change against the period before';
        COMMENT ON MATERIALIZED VIEW %1$s.category_ranking IS 'categories ranked by revenue and quantity per week and month, with the change against the period before';
        COMMENT ON MATERIALIZED VIEW %1$s.segment_sales IS 'what each customer segment buys: customers, orders, quantity and revenue per category';
        COMMENT ON VIEW %1$s.page_views IS 'page views with segment and page kind (live: the stream)';
        COMMENT ON VIEW %1$s.page_traffic_hourly IS 'views and users per page and hour (live)';
        COMMENT ON VIEW %1$s.funnel IS 'users reaching product page, cart, checkout and complete, overall and per segment, with conversion rates (live)';
        COMMENT ON VIEW %1$s.active_users IS 'users active in the last 5 minutes (live)';
        COMMENT ON MATERIALIZED VIEW %1$s.pages_before_purchase IS 'pages buyers saw in the 24 hours before a purchase: orders and buyers per page; refreshed by each batch run';
        COMMENT ON COLUMN %1$s.orders.business_day IS 'the shop''s business day (%2$s)';
        COMMENT ON COLUMN %1$s.sales_daily.business_day IS 'the shop''s business day (%2$s)';
        COMMENT ON COLUMN %1$s.sales_daily.revenue IS 'sum of the totals of paid and shipped orders';
        COMMENT ON COLUMN %1$s.product_ranking.revenue_change_pct IS 'change of revenue against the period before, in percent (NULL: nothing sold then)';
        $$, a, business_zone);

    -- the caller's, recorded so the owner's batch runs refresh the rollups
    PERFORM @extschema@.ecsync_catalog_call('register_analytics', jsonb_build_object(
        'schema_name', analytics_schema, 'shop_schema', shop_schema, 'page_views', pv::text,
        'business_zone', business_zone, 'matviews', to_jsonb(matviews),
        'refresh_with_runs', coalesce(refresh_with_runs, true)));
    SELECT count(*) INTO n FROM pg_class c WHERE c.relnamespace = analytics_schema::regnamespace AND c.relkind IN ('v', 'm');
    RETURN format('%s views and materialized views in schema %s', n, analytics_schema);
END
$fn$;

COMMENT ON FUNCTION ecsync_create_analytics(name, regclass, text, name, boolean) IS
  'build (or rebuild) the analytics schema Metabase charts, over the synced shop tables and the page-view stream';

/*
 * ecsync_refresh_analytics refreshes the materialized rollups of the
 * caller's analytics layers (all, or the one named).  Each layer is
 * refreshed on its own: one that fails is recorded in
 * ecsync.analytics_layers.last_error and the others go on.  Every batch
 * run calls it (with_runs_only: the layers made with refresh_with_runs),
 * as the owner of the registrations it synced, in its own transaction.
 * Sorts and hashes get work_mem 256MB: the rollups aggregate millions of
 * rows.  Returns the number of layers refreshed.
 */
CREATE FUNCTION ecsync_refresh_analytics(analytics_schema name DEFAULT NULL, with_runs_only boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET work_mem = '256MB'
AS $fn$
DECLARE
    l ecsync.analytics_layers;
    mv text;
    t0 timestamptz;
    n integer := 0;
BEGIN
    FOR l IN SELECT * FROM ecsync.analytics_layers al
              WHERE (analytics_schema IS NULL OR al.schema_name = analytics_schema)
                AND (NOT with_runs_only OR al.refresh_with_runs)
                AND to_regnamespace(quote_ident(al.schema_name)) IS NOT NULL   -- dropped: nothing to do
                AND pg_has_role(al.owner, 'MEMBER')
              ORDER BY al.schema_name LOOP
        t0 := clock_timestamp();
        BEGIN
            FOREACH mv IN ARRAY l.matviews LOOP
                EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', l.schema_name, mv);
            END LOOP;
            PERFORM @extschema@.ecsync_catalog_call('analytics_refreshed', jsonb_build_object(
                'schema_name', l.schema_name, 'seconds', extract(epoch FROM clock_timestamp() - t0)));
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            IF SQLSTATE IN ('57014', '57P01') THEN  -- a cancel or shutdown ends the caller
                RAISE;
            END IF;
            RAISE WARNING 'ecsync: analytics layer % was not refreshed: %', l.schema_name, SQLERRM;
            PERFORM @extschema@.ecsync_catalog_call('analytics_refreshed', jsonb_build_object(
                'schema_name', l.schema_name, 'error', SQLERRM));
        END;
    END LOOP;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION ecsync_refresh_analytics(name, boolean) IS
  'refresh the materialized rollups of the caller''s analytics layers (every batch run does it); returns how many';

GRANT EXECUTE ON FUNCTION ecsync_create_analytics(name, regclass, text, name, boolean),
                          ecsync_refresh_analytics(name, boolean)
  TO PUBLIC;
