/* ecsync 0.6 -> 0.7: change capture keeps MySQL's executed GTID set.
 *
 * - ecsync.cdc_servers.gtid_executed: the GTID set of every MySQL
 *   transaction applied (or already in the snapshot the stream started
 *   from), written in the transaction that applies the rows, as the
 *   position is.  A worker whose server was switched (a fail-over to a
 *   replica: another server_uuid) or whose binary log file is gone resumes
 *   by it, as a MySQL replica with SOURCE_AUTO_POSITION does, and skips a
 *   transaction it already has;
 * - ecsync.cdc_servers.server_uuid: the MySQL server the position belongs to;
 * - ecsync.cdc_status shows both;
 * - ecsync.cdc_table_status.cascades: the foreign-key cascades into a table
 *   (ON DELETE / ON UPDATE CASCADE, SET NULL), which MariaDB and InnoDB do
 *   not log and the worker applies, or what it cannot apply;
 * - analytics: the rollups are unlogged tables that each refresh moves by
 *   the orders, customers and products that changed (statement triggers on
 *   the shop tables record them as they were), and recomputes after a full
 *   load or a crash; ecsync_refresh_analytics(full_refresh => true)
 *   recomputes it all;
 *   ecsync.analytics_layers.refresh_mode says how the last refresh went;
 * - ecsync.runs.error_detail and error_hint: a failed run's error is kept as
 *   PostgreSQL raised it, its message (error), detail and hint apart, and
 *   ecsync_run_batch() raises them again each in its place.
 */
\echo Use "ALTER EXTENSION ecsync UPDATE TO '0.7'" to load this file. \quit

ALTER TABLE ecsync.runs
    ADD COLUMN error_detail text,   -- the failure's DETAIL (error is its message)
    ADD COLUMN error_hint   text,   -- ... and its HINT
    ADD COLUMN error_context text;  -- ... and its CONTEXT (the table being synced)
COMMENT ON COLUMN ecsync.runs.error IS 'a failed run: the error''s message (its detail and hint are apart)';

ALTER TABLE ecsync.cdc_servers
    ADD COLUMN gtid_executed text,  -- MySQL: the GTID set applied (with the snapshot's)
    ADD COLUMN server_uuid   text;  -- MySQL: @@server_uuid of the server binlog_file/binlog_pos belong to

CREATE OR REPLACE VIEW ecsync.cdc_status WITH (security_invoker = true) AS
SELECT s.server_name,
       pg_catalog.pg_get_userbyid(s.owner) AS owner,
       s.state,
       s.worker_pid IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                                             WHERE a.pid = s.worker_pid
                                               AND a.backend_type = 'ecsync cdc') AS worker_running,
       s.binlog_file || ':' || s.binlog_pos AS applied_position,
       s.gtid,
       s.server_file || ':' || s.server_pos AS server_position,
       s.lag_bytes,
       CASE WHEN s.lag_bytes = 0 THEN 0::double precision
            ELSE extract(epoch FROM pg_catalog.now() - coalesce(s.source_time, s.started_at))::double precision
       END AS lag_seconds,
       s.rows_per_second,
       s.transactions,
       s.rows_applied,
       s.source_time AS last_source_commit,
       s.applied_at AS last_applied_at,
       (SELECT pg_catalog.count(*) FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t ON t.id = c.sync_table_id
         WHERE t.server_name = s.server_name AND c.state = 'streaming') AS tables_streaming,
       (SELECT pg_catalog.count(*) FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t ON t.id = c.sync_table_id
         WHERE t.server_name = s.server_name AND c.state = 'snapshot') AS tables_to_snapshot,
       (SELECT pg_catalog.count(*) FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t ON t.id = c.sync_table_id
         WHERE t.server_name = s.server_name AND c.state = 'paused') AS tables_paused,
       s.last_error,
       s.last_error_at,
       s.gtid_executed,
       s.server_uuid
  FROM ecsync.cdc_servers s;
COMMENT ON VIEW ecsync.cdc_status IS
  'per MySQL server: the binary log position applied, the server''s own, the lag in bytes and seconds, '
  'the rate, the tables by state, the last error, and on MySQL the GTID set applied and the server it was read from';

-- what change capture does with the table's foreign-key cascades, which
-- MariaDB and InnoDB's own keys do not log: applied by the worker, logged by
-- MySQL, or what cannot be (set at the worker's start, before any change)
ALTER TABLE ecsync.cdc_tables ADD COLUMN cascades text;

CREATE OR REPLACE VIEW ecsync.cdc_table_status WITH (security_invoker = true) AS
SELECT t.id, t.target_schema || '.' || t.target_table AS table_name,
       t.server_name, coalesce(t.source_database || '.', '') || t.source_table AS source,
       c.state, c.snapshot_file || ':' || c.snapshot_pos AS snapshot_position, c.snapshot_at,
       c.inserts, c.updates, c.deletes, c.last_change_at, c.error, c.error_at,
       c.schema_change, c.schema_change_at, c.cascades
  FROM ecsync.sync_tables t JOIN ecsync.cdc_tables c ON c.sync_table_id = t.id;
COMMENT ON VIEW ecsync.cdc_table_status IS
  'each change-capture table: snapshot (waiting to be copied), streaming, or paused with the reason and what to do; '
  'schema_change: the last MySQL schema change it followed by being copied anew; '
  'cascades: the foreign-key cascades MySQL runs into it, and whether ecsync applies them';

---------------------------------------------------------------- analytics: incremental rollups
/*
 * The analytics rollups as tables brought up to date by what changed
 * (issue #21, part 4).  In a layer made by 0.7's ecsync_create_analytics,
 * sales_daily, orders_by_status, product_sales_daily, product_ranking,
 * category_ranking and segment_sales are tables (same names, same
 * columns); statement triggers on the four shop tables (AFTER INSERT /
 * UPDATE / DELETE with transition tables, AFTER TRUNCATE, enabled ALWAYS
 * since batch runs load as a replica) record each order and order line
 * that changed as it was before (<layer>.rollup_old_sales,
 * rollup_old_lines) and the customers and products that changed
 * (rollup_changes).  The layer's refresh_rollups() moves
 * product_sales_daily and customer_category_sales by the difference of the
 * changed orders (their lines now less their lines then), segment_sales by
 * the difference of those customers' rows, and recomputes the days, weeks
 * and months those orders fall in.  A TRUNCATE (every full load truncates
 * first), missing triggers, change capture on a shop table or a large
 * change recompute everything: one aggregate per rollup over the order
 * lines, rankings from lag() and rank() over the aggregates.
 *
 * The rollups are UNLOGGED: they are made again from the shop tables at
 * will, and writing them without WAL makes a full refresh much cheaper.  A
 * crash (or a standby's promotion) leaves them empty; the next refresh
 * sees that and recomputes everything.  A hot standby cannot read them
 * (PostgreSQL does not replicate unlogged tables): Metabase reads the
 * primary.  Layers made by 0.5 or 0.6 keep their materialized views and are
 * refreshed as before until ecsync_create_analytics() makes them again.
 */

-- how the last refresh went: incremental (what changed) or full (why)
ALTER TABLE ecsync.analytics_layers ADD COLUMN refresh_mode text;

CREATE OR REPLACE FUNCTION ecsync.catalog_analytics_refreshed(caller oid, a jsonb)
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
               refresh_mode = a->>'mode', last_error = NULL, last_error_at = NULL
         WHERE schema_name = prev.schema_name;
    ELSE
        UPDATE ecsync.analytics_layers SET last_error = a->>'error', last_error_at = now()
         WHERE schema_name = prev.schema_name;
    END IF;
    RETURN 'true'::jsonb;
END
$$;

/*
 * ecsync_create_analytics builds (or rebuilds) the analytics schema over the
 * synced shop tables and the page-view stream target, as the caller, who
 * owns what it makes.  How each object is kept current:
 *   - views over the page views (traffic, funnel, active users): the stream
 *     commits every second or so, so a view is current by construction;
 *   - rollups of the shop tables (sales_daily, orders_by_status,
 *     product_sales_daily, the rankings, segment_sales; tables since 0.7):
 *     the shop tables change only when a batch run commits, so the run
 *     brings them up to date in its own transaction (ecsync_refresh_analytics,
 *     which calls the layer's refresh_rollups()) and Metabase sees the new
 *     rows and the new figures together.  Statement triggers on the shop
 *     tables record the orders, order lines, customers and products that
 *     changed, and the rollups move by the difference; a full load
 *     (TRUNCATE), a crash (the rollups are unlogged) or anything unknown
 *     recomputes everything;
 *   - pages_before_purchase, over the page views too: a materialized view
 *     the runs refresh;
 *   - views on those rollups (weekly, monthly): as fresh as the rollups.
 */
CREATE OR REPLACE FUNCTION ecsync_create_analytics(
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
    matviews text[] := ARRAY['pages_before_purchase'];
    body text;
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
    -- (the record_changes triggers on the shop tables go with their function)
    EXECUTE format('DROP FUNCTION IF EXISTS %1$s.record_changes() CASCADE', a);
    EXECUTE format('DROP FUNCTION IF EXISTS %1$s.refresh_rollups(boolean), %1$s.rank_periods(date[], date[]), '
                   '%1$s.watch_shop()', a);
    FOREACH t IN ARRAY ARRAY['pages_before_purchase', 'segment_sales', 'category_ranking', 'product_ranking',
                             'product_sales_daily', 'orders_by_status', 'sales_daily', 'customer_category_sales',
                             'rollup_changes', 'rollup_old_sales', 'rollup_old_lines'] LOOP
        CASE (SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(a || '.' || quote_ident(t)))
            WHEN 'm' THEN EXECUTE format('DROP MATERIALIZED VIEW %s.%I CASCADE', a, t);
            WHEN 'r' THEN EXECUTE format('DROP TABLE %s.%I CASCADE', a, t);
            ELSE NULL;
        END CASE;
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
    EXECUTE format($$CREATE UNLOGGED TABLE %1$s.sales_daily AS
        WITH items AS (SELECT d.sale_id, sum(d.quantity)::bigint AS items FROM %2$s.sales_details d GROUP BY 1)
        SELECT %1$s.business_day(%3$s) AS business_day, count(*) AS orders, sum(s.total) AS revenue,
               coalesce(sum(i.items), 0)::bigint AS items, count(DISTINCT s.user_id) AS customers,
               round(sum(s.total) / count(*), 2) AS avg_order_value
          FROM %2$s.sales s LEFT JOIN items i ON i.sale_id = s.id
         WHERE %4$s
         GROUP BY 1 WITH NO DATA$$, a, s, sold, paid);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.sales_daily (business_day)', a);
    EXECUTE format($$CREATE UNLOGGED TABLE %1$s.orders_by_status AS
        SELECT %1$s.business_day(%3$s) AS business_day, s.status::text AS status,
               count(*) AS orders, sum(s.total) AS amount
          FROM %2$s.sales s GROUP BY 1, 2 WITH NO DATA$$, a, s, sold);
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
    EXECUTE format($$CREATE UNLOGGED TABLE %1$s.product_sales_daily AS
        SELECT %1$s.business_day(%3$s) AS business_day, d.product_id::bigint AS product_id,
               count(*) AS order_lines, sum(d.quantity)::bigint AS quantity,
               sum(d.quantity * d.unit_price) AS revenue
          FROM %2$s.sales_details d JOIN %2$s.sales s ON s.id = d.sale_id
         WHERE %4$s
         GROUP BY 1, 2 WITH NO DATA$$, a, s, sold, paid);
    EXECUTE format('CREATE UNIQUE INDEX product_sales_daily_key ON %s.product_sales_daily (business_day, product_id)', a);
    -- rankings per week and month: a product (category) sold in a period,
    -- ranked in it, against its own figures of the period before (lag()
    -- over its periods: no self-join).  Weeks and months are two plain
    -- aggregates of the daily rollup, appended.  Per day,
    -- product_sales_daily has the figures.
    EXECUTE format($$CREATE UNLOGGED TABLE %1$s.product_ranking AS
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
          FROM l LEFT JOIN %2$s.products pr ON pr.id = l.product_id WITH NO DATA$$, a, s);
    EXECUTE format('CREATE UNIQUE INDEX product_ranking_key ON %s.product_ranking (period, period_start, product_id)', a);
    EXECUTE format($$CREATE UNLOGGED TABLE %1$s.category_ranking AS
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
          FROM l WITH NO DATA$$, a, s);
    EXECUTE format('CREATE UNIQUE INDEX ON %s.category_ranking (period, period_start, category)', a);
    EXECUTE format($$CREATE UNLOGGED TABLE %1$s.segment_sales AS
        SELECT %1$s.age_band(u.age::integer) AS age_band, coalesce(u.gender::text, 'unknown') AS gender,
               coalesce(u.occupation::text, 'unknown') AS occupation, coalesce(p.category::text, 'unknown') AS category,
               count(DISTINCT s.user_id) AS customers, count(DISTINCT s.id) AS orders,
               sum(d.quantity)::bigint AS quantity, sum(d.quantity * d.unit_price) AS revenue
          FROM %2$s.sales s
          JOIN %2$s.sales_details d ON d.sale_id = s.id
          LEFT JOIN %2$s.users u ON u.id = s.user_id
          LEFT JOIN %2$s.products p ON p.id = d.product_id
         WHERE %3$s
         GROUP BY 1, 2, 3, 4 WITH NO DATA$$, a, s, paid);
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
        COMMENT ON TABLE %1$s.sales_daily IS 'sales (paid or shipped orders) per business day: orders, revenue, items, customers, average order value; refreshed by each batch run';
        COMMENT ON TABLE %1$s.orders_by_status IS 'orders and their amount per business day and status; refreshed by each batch run';
        COMMENT ON VIEW %1$s.sales_weekly IS 'sales per week (Monday to Sunday, business days)';
        COMMENT ON VIEW %1$s.sales_monthly IS 'sales per month (business days)';
        COMMENT ON TABLE %1$s.product_sales_daily IS 'quantity and revenue per product and business day; refreshed by each batch run';
        COMMENT ON TABLE %1$s.product_ranking IS 'products ranked by revenue and quantity per week and month, with the change against the period before';
        COMMENT ON TABLE %1$s.category_ranking IS 'categories ranked by revenue and quantity per week and month, with the change against the period before';
        COMMENT ON TABLE %1$s.segment_sales IS 'what each customer segment buys: customers, orders, quantity and revenue per category';
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

    ------------------------------------------------------------ incremental upkeep of the rollups
    -- what each customer bought per category (with the customer's segment
    -- when it was computed): segment_sales is its sum, and a change of a
    -- customer's orders or segment moves only that customer's rows
    EXECUTE format($$CREATE UNLOGGED TABLE %1$s.customer_category_sales AS
        SELECT s.user_id::bigint AS user_id, %1$s.age_band(u.age::integer) AS age_band,
               coalesce(u.gender::text, 'unknown') AS gender, coalesce(u.occupation::text, 'unknown') AS occupation,
               coalesce(p.category::text, 'unknown') AS category,
               count(DISTINCT s.id) AS orders, sum(d.quantity)::bigint AS quantity, sum(d.quantity * d.unit_price) AS revenue
          FROM %2$s.sales s
          JOIN %2$s.sales_details d ON d.sale_id = s.id
          LEFT JOIN %2$s.users u ON u.id = s.user_id
          LEFT JOIN %2$s.products p ON p.id = d.product_id
         WHERE %3$s
         GROUP BY 1, 2, 3, 4, 5 WITH NO DATA$$, a, s, paid);
    EXECUTE format('CREATE INDEX customer_category_sales_user ON %s.customer_category_sales (user_id)', a);
    -- the business days, customers and products the shop tables' triggers
    -- saw change since the last refresh ('all': unknown, recompute it all)
    EXECUTE format($$CREATE TABLE %1$s.rollup_changes (
        kind text NOT NULL CHECK (kind IN ('all', 'sale', 'user', 'product', 'category')),
        business_day date,
        id bigint)$$, a);
    -- the orders and order lines changed since the last refresh, each as it
    -- was before its first change (existed false: it was new), so that the
    -- refresh moves the rollups by the difference of the orders they belong
    -- to instead of recomputing whole days and customers
    EXECUTE format($$CREATE TABLE %1$s.rollup_old_sales (
        id bigint PRIMARY KEY, existed boolean NOT NULL, user_id bigint, business_day date, status text,
        total numeric)$$, a);
    EXECUTE format($$CREATE TABLE %1$s.rollup_old_lines (
        id bigint PRIMARY KEY, existed boolean NOT NULL, sale_id bigint, product_id bigint, quantity integer,
        unit_price numeric)$$, a);
    EXECUTE format($$
        COMMENT ON TABLE %1$s.rollup_old_sales IS 'internal: orders changed since the last refresh of the rollups, as they were before (existed false: new)';
        COMMENT ON TABLE %1$s.rollup_old_lines IS 'internal: order lines changed since the last refresh of the rollups, as they were before (existed false: new)';
        COMMENT ON TABLE %1$s.customer_category_sales IS 'what each customer bought per category (orders, quantity, revenue) with the customer''s segment: what segment_sales sums';
        COMMENT ON TABLE %1$s.rollup_changes IS 'internal: the orders lines changed belong to (sale), customers (user) and products (product, category) whose rows changed since the last refresh of the rollups; all: recompute everything';
        $$, a);

    body := replace(replace(replace(replace(replace($body$
CREATE FUNCTION @A@.record_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $t$
DECLARE
    cols text := CASE TG_ARGV[0] WHEN 'sales' THEN 'id, user_id, sold_at, status, total'
                                 WHEN 'sales_details' THEN 'id, sale_id, product_id, quantity, unit_price'
                                 WHEN 'users' THEN 'id, age, gender, occupation'
                                 ELSE 'id, name, category' END;
    o text := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN 'old_rows'
                   ELSE format('(SELECT * FROM @S@.%I WHERE false) none', TG_ARGV[0]) END;
    n text := CASE WHEN TG_OP IN ('UPDATE', 'INSERT') THEN 'new_rows'
                   ELSE format('(SELECT * FROM @S@.%I WHERE false) none', TG_ARGV[0]) END;
    changed text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO @A@.rollup_changes (kind) VALUES ('all');
        RETURN NULL;
    END IF;
    -- a full recompute is due anyway (a full load truncated first)
    IF EXISTS (SELECT 1 FROM @A@.rollup_changes WHERE kind = 'all') THEN
        RETURN NULL;
    END IF;
    -- the rows whose columns the rollups read changed (not updated_at alone)
    changed := format('((SELECT %1$s FROM %2$s EXCEPT SELECT %1$s FROM %3$s) UNION ALL '
                      '(SELECT %1$s FROM %3$s EXCEPT SELECT %1$s FROM %2$s))', cols, o, n);
    -- an order or line: as it was before its first change since the last
    -- refresh (later changes keep that), or that it is new
    IF TG_ARGV[0] = 'sales' THEN
        EXECUTE format($q$INSERT INTO @A@.rollup_old_sales
            SELECT s.id::bigint, true, s.user_id::bigint, @A@.business_day(@SOLD@), s.status::text, s.total
              FROM (SELECT %1$s FROM %2$s EXCEPT SELECT %1$s FROM %3$s) s
            ON CONFLICT (id) DO NOTHING$q$, cols, o, n);
        EXECUTE format($q$INSERT INTO @A@.rollup_old_sales (id, existed)
            SELECT s.id::bigint, false FROM (SELECT %1$s FROM %3$s EXCEPT SELECT %1$s FROM %2$s) s
            ON CONFLICT (id) DO NOTHING$q$, cols, o, n);
    ELSIF TG_ARGV[0] = 'sales_details' THEN
        EXECUTE format($q$INSERT INTO @A@.rollup_old_lines
            SELECT d.id::bigint, true, d.sale_id::bigint, d.product_id::bigint, d.quantity, d.unit_price
              FROM (SELECT %1$s FROM %2$s EXCEPT SELECT %1$s FROM %3$s) d
            ON CONFLICT (id) DO NOTHING$q$, cols, o, n);
        EXECUTE format($q$INSERT INTO @A@.rollup_old_lines (id, existed)
            SELECT d.id::bigint, false FROM (SELECT %1$s FROM %3$s EXCEPT SELECT %1$s FROM %2$s) d
            ON CONFLICT (id) DO NOTHING$q$, cols, o, n);
        -- (and the order a changed line belongs to now)
        EXECUTE format($q$INSERT INTO @A@.rollup_changes (kind, id)
            SELECT DISTINCT 'sale', d.sale_id::bigint FROM (SELECT %1$s FROM %3$s EXCEPT SELECT %1$s FROM %2$s) d$q$,
                       cols, o, n);
    ELSIF TG_ARGV[0] = 'users' THEN
        EXECUTE format($q$INSERT INTO @A@.rollup_changes (kind, id)
            SELECT DISTINCT 'user', c.id::bigint FROM %s c$q$, changed);
    ELSE
        EXECUTE format($q$INSERT INTO @A@.rollup_changes (kind, id)
            SELECT DISTINCT 'product', c.id::bigint FROM %s c
            UNION
            SELECT DISTINCT 'category', c.id::bigint
              FROM ((SELECT id, category FROM %2$s EXCEPT SELECT id, category FROM %3$s) UNION ALL
                    (SELECT id, category FROM %3$s EXCEPT SELECT id, category FROM %2$s)) c$q$, changed, o, n);
    END IF;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE IN ('57014', '57P01') THEN  -- a cancel or shutdown ends the statement
        RAISE;
    END IF;
    -- never fail the shop's writer: what changed is unknown, recompute it all
    RAISE WARNING 'ecsync: changes of %.% not recorded (%): the next refresh recomputes everything', TG_TABLE_SCHEMA, TG_TABLE_NAME, SQLERRM;
    INSERT INTO @A@.rollup_changes (kind) VALUES ('all');
    RETURN NULL;
END
$t$;

-- watch_shop (re)creates the statement triggers that record what changes
-- in the four shop tables; false when the caller may not (the rollups are
-- then recomputed in full by every refresh)
CREATE FUNCTION @A@.watch_shop() RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $t$
DECLARE
    t text;
    op text;
    tg text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'products', 'sales', 'sales_details'] LOOP
        FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
            tg := left('ecsync_' || @LAYER@, 50) || '_' || op;
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON @S@.%I', tg, t);
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON @S@.%I %s FOR EACH STATEMENT EXECUTE FUNCTION @A@.record_changes(%L)',
                           tg, upper(op), t,
                           CASE op WHEN 'insert' THEN 'REFERENCING NEW TABLE AS new_rows'
                                   WHEN 'update' THEN 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                                   WHEN 'delete' THEN 'REFERENCING OLD TABLE AS old_rows' ELSE '' END, t);
            -- batch runs load with session_replication_role = replica
            EXECUTE format('ALTER TABLE @S@.%I ENABLE ALWAYS TRIGGER %I', t, tg);
        END LOOP;
    END LOOP;
    RETURN true;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'ecsync: the rollups of % will be recomputed in full by every refresh: %', @LAYER@, SQLERRM
          USING HINT = 'The owner of the shop tables can make the layer (the triggers that record changes need it).';
    RETURN false;
END
$t$;

-- rank_periods recomputes product_ranking and category_ranking for the
-- weeks and months given (NULL: all) from product_sales_daily: one period
-- kind at a time, so that no sort compares the period's name.  The figures
-- of the period before come from lag() over each product's (category's)
-- periods, one sort, instead of joining the periods with themselves.
CREATE FUNCTION @A@.rank_periods(weeks date[], months date[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $t$
DECLARE
    per text;
    starts date[];
    span date[];   -- the days of these periods and of the ones before them
    lo date := '-infinity';
    hi date := 'infinity';
    hashagg text := current_setting('enable_hashagg');
BEGIN
    FOREACH per IN ARRAY ARRAY['week', 'month'] LOOP
        starts := CASE per WHEN 'week' THEN weeks ELSE months END;
        IF starts IS NOT NULL THEN
            DELETE FROM @A@.product_ranking WHERE period = per AND period_start = ANY(starts);
            DELETE FROM @A@.category_ranking WHERE period = per AND period_start = ANY(starts);
            span := ARRAY(SELECT DISTINCT g::date FROM unnest(starts) w,
                                 generate_series(@A@.previous_period(per, w)::timestamp,
                                                 CASE per WHEN 'week' THEN w + 6
                                                          ELSE (w + interval '1 month' - interval '1 day')::date END::timestamp,
                                                 interval '1 day') g);
            lo := (SELECT min(d) FROM unnest(span) d);
            hi := (SELECT max(d) FROM unnest(span) d);
        END IF;
        -- (sorted, not hashed: a product's periods come out in the order its
        -- window reads them, and a hash of a million groups spills)
        PERFORM set_config('enable_hashagg', 'off', true);
        INSERT INTO @A@.product_ranking
        WITH p AS (
            SELECT CASE per WHEN 'week' THEN x.business_day - ((x.business_day - date '2001-01-01') % 7 + 7) % 7
                            ELSE date_trunc('month', x.business_day::timestamp)::date END AS period_start,
                   x.product_id AS key, sum(x.quantity)::bigint AS quantity, sum(x.revenue) AS revenue
              FROM @A@.product_sales_daily x
             WHERE x.business_day BETWEEN lo AND hi AND (starts IS NULL OR x.business_day = ANY(span))
             GROUP BY 1, 2),
        l AS (
            SELECT p.*,
                   CASE WHEN lag(p.period_start) OVER w = @A@.previous_period(per, p.period_start)
                        THEN lag(p.quantity) OVER w ELSE 0 END AS previous_quantity,
                   CASE WHEN lag(p.period_start) OVER w = @A@.previous_period(per, p.period_start)
                        THEN lag(p.revenue) OVER w ELSE 0 END AS previous_revenue
              FROM p WINDOW w AS (PARTITION BY p.key ORDER BY p.period_start)),
        r AS (
            SELECT l.*, rank() OVER (PARTITION BY l.period_start ORDER BY l.revenue DESC) AS revenue_rank,
                   rank() OVER (PARTITION BY l.period_start ORDER BY l.quantity DESC) AS quantity_rank
              FROM l
             WHERE starts IS NULL OR l.period_start = ANY(starts))
        SELECT per, r.period_start, r.key, pr.name::text, pr.category::text, r.quantity, r.revenue,
               r.revenue_rank, r.quantity_rank, r.previous_quantity, r.previous_revenue, r.revenue - r.previous_revenue,
               round(100 * (r.revenue - r.previous_revenue) / nullif(r.previous_revenue, 0), 2)
          FROM r LEFT JOIN @S@.products pr ON pr.id = r.key;
        PERFORM set_config('enable_hashagg', hashagg, true);

        -- the categories' figures per day first (a few rows a day)
        INSERT INTO @A@.category_ranking
        WITH d AS (
            SELECT x.business_day, coalesce(pr.category::text, 'unknown') AS key,
                   sum(x.quantity)::bigint AS quantity, sum(x.revenue) AS revenue
              FROM @A@.product_sales_daily x LEFT JOIN @S@.products pr ON pr.id = x.product_id
             WHERE x.business_day BETWEEN lo AND hi AND (starts IS NULL OR x.business_day = ANY(span))
             GROUP BY 1, 2),
        p AS (
            SELECT CASE per WHEN 'week' THEN d.business_day - ((d.business_day - date '2001-01-01') % 7 + 7) % 7
                            ELSE date_trunc('month', d.business_day::timestamp)::date END AS period_start,
                   d.key, sum(d.quantity)::bigint AS quantity, sum(d.revenue) AS revenue
              FROM d
             GROUP BY 1, 2),
        l AS (
            SELECT p.*,
                   CASE WHEN lag(p.period_start) OVER w = @A@.previous_period(per, p.period_start)
                        THEN lag(p.quantity) OVER w ELSE 0 END AS previous_quantity,
                   CASE WHEN lag(p.period_start) OVER w = @A@.previous_period(per, p.period_start)
                        THEN lag(p.revenue) OVER w ELSE 0 END AS previous_revenue
              FROM p WINDOW w AS (PARTITION BY p.key ORDER BY p.period_start))
        SELECT per, l.period_start, l.key, l.quantity, l.revenue,
               rank() OVER (PARTITION BY l.period_start ORDER BY l.revenue DESC),
               rank() OVER (PARTITION BY l.period_start ORDER BY l.quantity DESC),
               l.previous_quantity, l.previous_revenue, l.revenue - l.previous_revenue,
               round(100 * (l.revenue - l.previous_revenue) / nullif(l.previous_revenue, 0), 2)
          FROM l
         WHERE starts IS NULL OR l.period_start = ANY(starts);
    END LOOP;
END
$t$;

-- refresh_rollups brings the rollups up to date: by the difference of the
-- orders that changed (rollup_old_sales, rollup_old_lines: each as it was)
-- and the customers and products that changed (rollup_changes), or
-- everything when asked (full_refresh), when the changes are unknown (a
-- TRUNCATE: a full load; the triggers missing; change capture writing the
-- shop tables, which fires no statement trigger) or when so much changed
-- that recomputing it all is cheaper.  Returns what it did.
CREATE FUNCTION @A@.refresh_rollups(full_refresh boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET work_mem = '512MB'
SET max_parallel_workers_per_gather = 0
SET jit = off
AS $t$
DECLARE
    everything boolean;
    users bigint[];
    products bigint[];
    moved bigint[];
    sale_ids bigint[];
    days date[];
    weeks date[];
    months date[];
    n_orders bigint;
    unknown_day boolean;
    why text;
    hashagg text;
    shop regclass[] := ARRAY[to_regclass('@S@.users'), to_regclass('@S@.products'),
                             to_regclass('@S@.sales'), to_regclass('@S@.sales_details')];
BEGIN
    -- one refresh at a time; readers go on (and a rollup gone is an error);
    -- writers of the shop wait to record their changes until it commits
    LOCK TABLE @A@.sales_daily, @A@.orders_by_status, @A@.product_sales_daily, @A@.product_ranking,
               @A@.category_ranking, @A@.customer_category_sales, @A@.segment_sales IN SHARE ROW EXCLUSIVE MODE;
    LOCK TABLE @A@.rollup_changes, @A@.rollup_old_sales, @A@.rollup_old_lines IN EXCLUSIVE MODE;
    WITH taken AS (DELETE FROM @A@.rollup_changes RETURNING *)
    SELECT coalesce(bool_or(kind = 'all' OR (kind IN ('user', 'sale') AND id IS NULL)), false),
           coalesce(array_agg(DISTINCT id) FILTER (WHERE kind = 'user'), '{}'),
           coalesce(array_agg(DISTINCT id) FILTER (WHERE kind = 'product'), '{}'),
           coalesce(array_agg(DISTINCT id) FILTER (WHERE kind = 'category'), '{}'),
           coalesce(array_agg(DISTINCT id) FILTER (WHERE kind = 'sale'), '{}')
      INTO everything, users, products, moved, sale_ids
      FROM taken;
    IF full_refresh THEN
        why := 'asked';
    ELSIF NOT EXISTS (SELECT 1 FROM @A@.orders_by_status) AND EXISTS (SELECT 1 FROM @S@.sales) THEN
        -- the rollups are unlogged: a crash (or a standby's promotion) empties them
        why := 'the rollups were empty (after a crash)';
    ELSIF everything THEN
        why := 'a full load or TRUNCATE';
    ELSIF (SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(shop) AND tgenabled = 'A'
              AND tgfoid = '@A@.record_changes()'::regprocedure) <> 16 THEN
        why := 'the shop tables'' triggers were missing';
        PERFORM @A@.watch_shop();
    ELSIF EXISTS (SELECT 1 FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t ON t.id = c.sync_table_id
                   WHERE to_regclass(format('%I.%I', t.target_schema, t.target_table)) = ANY(shop)) THEN
        why := 'change capture writes the shop tables';
    ELSIF cardinality(users) * 3 > (SELECT count(*) FROM @S@.users) + 300 THEN
        why := format('%s customers changed', cardinality(users));
    ELSIF cardinality(moved) > 0 AND EXISTS (SELECT 1 FROM @A@.product_sales_daily WHERE product_id = ANY(moved)) THEN
        why := 'products that sold changed category';
    ELSE
        -- the orders changed: recorded as such, or whose lines changed
        -- (the order a line belonged to and the ones it belonged to since)
        DROP TABLE IF EXISTS pg_temp.ecsync_rollup_sales, pg_temp.ecsync_rollup_cur, pg_temp.ecsync_rollup_lines,
                             pg_temp.ecsync_rollup_users, pg_temp.ecsync_rollup_old;
        CREATE TEMP TABLE ecsync_rollup_sales ON COMMIT DROP AS
        SELECT id FROM @A@.rollup_old_sales
        UNION
        SELECT sale_id FROM @A@.rollup_old_lines WHERE existed AND sale_id IS NOT NULL
        UNION
        SELECT unnest(sale_ids);
        ANALYZE pg_temp.ecsync_rollup_sales;
        SELECT count(*) INTO n_orders FROM pg_temp.ecsync_rollup_sales;
        IF n_orders * 5 > (SELECT coalesce(sum(b.orders), 0) FROM @A@.orders_by_status b) + 1000 THEN
            why := format('%s orders changed', n_orders);
        ELSE
            -- the lines of those orders now (one pass over the order lines), and
            -- every paid line of them now (+1) and before (-1), with the order's
            -- customer and business day then
            CREATE TEMP TABLE ecsync_rollup_cur ON COMMIT DROP AS
            SELECT d.id::bigint AS id, d.sale_id::bigint AS sale_id, d.product_id::bigint AS product_id, d.quantity,
                   d.unit_price
              FROM @S@.sales_details d
             WHERE d.sale_id IN (SELECT id FROM pg_temp.ecsync_rollup_sales);
            CREATE TEMP TABLE ecsync_rollup_lines ON COMMIT DROP AS
            WITH h AS (   -- the orders as they are and as they were
                SELECT 1 AS sgn, s.id::bigint AS id, s.user_id::bigint AS user_id, @A@.business_day(@SOLD@) AS business_day,
                       s.status::text AS status
                  FROM @S@.sales s WHERE s.id IN (SELECT id FROM pg_temp.ecsync_rollup_sales)
                UNION ALL
                SELECT -1, o.id, o.user_id, o.business_day, o.status FROM @A@.rollup_old_sales o WHERE o.existed
                UNION ALL
                SELECT -1, s.id::bigint, s.user_id::bigint, @A@.business_day(@SOLD@), s.status::text
                  FROM @S@.sales s
                 WHERE s.id IN (SELECT id FROM pg_temp.ecsync_rollup_sales)
                   AND NOT EXISTS (SELECT 1 FROM @A@.rollup_old_sales o WHERE o.id = s.id)),
            l AS (        -- the lines as they are and as they were
                SELECT 1 AS sgn, c.sale_id, c.product_id, c.quantity, c.unit_price FROM pg_temp.ecsync_rollup_cur c
                UNION ALL
                SELECT -1, c.sale_id, c.product_id, c.quantity, c.unit_price FROM pg_temp.ecsync_rollup_cur c
                 WHERE NOT EXISTS (SELECT 1 FROM @A@.rollup_old_lines o WHERE o.id = c.id)
                UNION ALL
                SELECT -1, o.sale_id, o.product_id, o.quantity, o.unit_price FROM @A@.rollup_old_lines o WHERE o.existed)
            SELECT h.sgn, h.id AS sale_id, h.user_id, h.business_day, h.status, l.product_id, l.quantity,
                   l.quantity * l.unit_price AS amount
              FROM h LEFT JOIN l ON l.sale_id = h.id AND l.sgn = h.sgn;
            SELECT coalesce(bool_or(business_day IS NULL OR user_id IS NULL), false),
                   coalesce(array_agg(DISTINCT business_day), '{}')
              INTO unknown_day, days
              FROM pg_temp.ecsync_rollup_lines;
            IF unknown_day THEN
                why := 'an order without a business day or a customer changed';
            END IF;
        END IF;
    END IF;

    DELETE FROM @A@.rollup_old_lines WHERE why IS NOT NULL;
    DELETE FROM @A@.rollup_old_sales WHERE why IS NOT NULL;
    IF why IS NOT NULL THEN
        TRUNCATE @A@.product_sales_daily, @A@.sales_daily, @A@.orders_by_status, @A@.product_ranking,
                 @A@.category_ranking, @A@.customer_category_sales, @A@.segment_sales;
        -- the big ones get their indexes built once, after the rows
        DROP INDEX @A@.product_sales_daily_key, @A@.product_ranking_key, @A@.customer_category_sales_user;
        -- (the business day once per order, not per line: OFFSET 0 keeps it
        -- there; sorted and grouped, not hashed: nearly every line is a group
        -- of its own, a hash of them spills, and the sort gives the order too)
        hashagg := current_setting('enable_hashagg');
        PERFORM set_config('enable_hashagg', 'off', true);
        INSERT INTO @A@.product_sales_daily
        SELECT s.business_day, d.product_id::bigint, count(*), sum(d.quantity)::bigint, sum(d.quantity * d.unit_price)
          FROM @S@.sales_details d
          JOIN (SELECT s.id, @A@.business_day(@SOLD@) AS business_day FROM @S@.sales s WHERE @PAID@ OFFSET 0) s
            ON s.id = d.sale_id
         GROUP BY 1, 2
         ORDER BY 1, 2;   -- (a day's rows together: the index is built faster, a refresh reads and moves few pages)
        PERFORM set_config('enable_hashagg', hashagg, true);
        CREATE UNIQUE INDEX product_sales_daily_key ON @A@.product_sales_daily (business_day, product_id);
        -- (the per-customer categories sorted byte-wise: no collation to compare)
        INSERT INTO @A@.customer_category_sales
        SELECT c.user_id, @A@.age_band(u.age::integer), coalesce(u.gender::text, 'unknown'),
               coalesce(u.occupation::text, 'unknown'), c.category, c.orders, c.quantity, c.revenue
          FROM (SELECT s.user_id::bigint AS user_id, coalesce(p.category::text, 'unknown') COLLATE "C" AS category,
                       count(DISTINCT s.id) AS orders, sum(d.quantity)::bigint AS quantity,
                       sum(d.quantity * d.unit_price) AS revenue
                  FROM @S@.sales s
                  JOIN @S@.sales_details d ON d.sale_id = s.id
                  LEFT JOIN @S@.products p ON p.id = d.product_id
                 WHERE @PAID@
                 GROUP BY 1, 2) c
          LEFT JOIN @S@.users u ON u.id = c.user_id;
        CREATE INDEX customer_category_sales_user ON @A@.customer_category_sales (user_id);
        -- (statistics for the next refresh's plans, which read a few days or customers)
        ANALYZE @A@.product_sales_daily, @A@.customer_category_sales;
        days := NULL;
    ELSE
        DELETE FROM @A@.rollup_old_lines;
        DELETE FROM @A@.rollup_old_sales;
        IF n_orders = 0 AND cardinality(users) = 0 AND cardinality(products) = 0 THEN
            RETURN 'incremental: nothing changed';
        END IF;
        DELETE FROM pg_temp.ecsync_rollup_lines WHERE product_id IS NULL OR status NOT IN ('paid', 'shipped');

        -- per business day and product: moved by the difference
        MERGE INTO @A@.product_sales_daily g
        USING (SELECT business_day, product_id, sum(sgn) AS lines, sum(sgn * quantity) AS quantity,
                      sum(sgn * amount) AS revenue
                 FROM pg_temp.ecsync_rollup_lines GROUP BY 1, 2) d
           ON g.business_day = d.business_day AND g.product_id = d.product_id
        WHEN MATCHED AND g.order_lines + d.lines = 0 THEN DELETE
        WHEN MATCHED AND (d.lines <> 0 OR d.quantity <> 0 OR d.revenue <> 0) THEN
            UPDATE SET order_lines = g.order_lines + d.lines, quantity = g.quantity + d.quantity,
                       revenue = g.revenue + d.revenue
        WHEN NOT MATCHED AND d.lines > 0 THEN
            INSERT VALUES (d.business_day, d.product_id, d.lines, d.quantity, d.revenue);

        -- customers: their rows as they were plus the difference of their
        -- orders (an order counts once per category), with their segment
        -- now; segment_sales moves by the difference of the rows
        CREATE TEMP TABLE ecsync_rollup_users ON COMMIT DROP AS
        SELECT DISTINCT user_id FROM pg_temp.ecsync_rollup_lines
        UNION
        SELECT unnest(users);
        CREATE TEMP TABLE ecsync_rollup_old ON COMMIT DROP AS
        SELECT * FROM @A@.customer_category_sales WHERE user_id IN (SELECT user_id FROM pg_temp.ecsync_rollup_users);
        DELETE FROM @A@.customer_category_sales WHERE user_id IN (SELECT user_id FROM pg_temp.ecsync_rollup_users);
        INSERT INTO @A@.customer_category_sales
        SELECT c.user_id, @A@.age_band(u.age::integer), coalesce(u.gender::text, 'unknown'),
               coalesce(u.occupation::text, 'unknown'), c.category, c.orders, c.quantity, c.revenue
          FROM (SELECT x.user_id, x.category, sum(x.orders)::bigint AS orders, sum(x.quantity)::bigint AS quantity,
                       sum(x.revenue) AS revenue
                  FROM (SELECT o.user_id, o.category, o.orders, o.quantity, o.revenue FROM pg_temp.ecsync_rollup_old o
                        UNION ALL
                        SELECT k.user_id, k.category, k.sgn, k.quantity, k.revenue
                          FROM (SELECT l.sgn, l.sale_id, l.user_id, coalesce(p.category::text, 'unknown') AS category,
                                       sum(l.sgn * l.quantity) AS quantity, sum(l.sgn * l.amount) AS revenue
                                  FROM pg_temp.ecsync_rollup_lines l LEFT JOIN @S@.products p ON p.id = l.product_id
                                 GROUP BY 1, 2, 3, 4) k) x
                 GROUP BY 1, 2
                HAVING sum(x.orders) > 0) c
          LEFT JOIN @S@.users u ON u.id = c.user_id;
        MERGE INTO @A@.segment_sales g
        USING (SELECT c.age_band, c.gender, c.occupation, c.category,
                      sum(c.sgn * (c.user_id IS NOT NULL)::integer) AS customers, sum(c.sgn * c.orders) AS orders,
                      sum(c.sgn * c.quantity) AS quantity, sum(c.sgn * c.revenue) AS revenue
                 FROM (SELECT 1 AS sgn, n.* FROM @A@.customer_category_sales n
                        WHERE n.user_id IN (SELECT user_id FROM pg_temp.ecsync_rollup_users)
                       UNION ALL
                       SELECT -1, o.* FROM pg_temp.ecsync_rollup_old o) c
                GROUP BY 1, 2, 3, 4) d
           ON g.age_band = d.age_band AND g.gender = d.gender AND g.occupation = d.occupation AND g.category = d.category
        WHEN MATCHED AND g.orders + d.orders = 0 THEN DELETE
        WHEN MATCHED AND d.orders <> 0 OR d.customers <> 0 OR d.quantity <> 0 OR d.revenue <> 0 THEN
            UPDATE SET customers = g.customers + d.customers, orders = g.orders + d.orders,
                       quantity = g.quantity + d.quantity, revenue = g.revenue + d.revenue
        WHEN NOT MATCHED AND d.orders > 0 THEN
            INSERT VALUES (d.age_band, d.gender, d.occupation, d.category, d.customers, d.orders, d.quantity, d.revenue);
        DELETE FROM @A@.orders_by_status WHERE business_day = ANY(days);
        DELETE FROM @A@.sales_daily WHERE business_day = ANY(days);
        weeks := ARRAY(SELECT DISTINCT w FROM unnest(days) d,
                              LATERAL (VALUES (d - (extract(isodow FROM d)::integer - 1)),
                                              (d - (extract(isodow FROM d)::integer - 1) + 7)) v(w));
        months := ARRAY(SELECT DISTINCT m FROM unnest(days) d,
                               LATERAL (VALUES (date_trunc('month', d::timestamp)::date),
                                               ((date_trunc('month', d::timestamp) + interval '1 month')::date)) v(m));
    END IF;

    -- per business day, from the sales and product_sales_daily (days NULL: all)
    INSERT INTO @A@.orders_by_status
    SELECT @A@.business_day(@SOLD@), s.status::text, count(*), sum(s.total)
      FROM @S@.sales s
     WHERE days IS NULL OR @A@.business_day(@SOLD@) IN (SELECT unnest(days))
     GROUP BY 1, 2;
    INSERT INTO @A@.sales_daily
    WITH o AS (
        SELECT @A@.business_day(@SOLD@) AS business_day, count(*) AS orders, sum(s.total) AS revenue,
               count(DISTINCT s.user_id) AS customers
          FROM @S@.sales s
         WHERE @PAID@ AND (days IS NULL OR @A@.business_day(@SOLD@) IN (SELECT unnest(days)))
         GROUP BY 1),
    i AS (
        SELECT x.business_day, sum(x.quantity) AS items
          FROM @A@.product_sales_daily x
         WHERE days IS NULL OR x.business_day = ANY(days)
         GROUP BY 1)
    SELECT o.business_day, o.orders, o.revenue, coalesce(i.items, 0)::bigint, o.customers, round(o.revenue / o.orders, 2)
      FROM o LEFT JOIN i ON i.business_day IS NOT DISTINCT FROM o.business_day;
    IF why IS NOT NULL THEN
        INSERT INTO @A@.segment_sales
        SELECT age_band, gender, occupation, category, count(user_id), sum(orders)::bigint, sum(quantity)::bigint, sum(revenue)
          FROM @A@.customer_category_sales
         GROUP BY 1, 2, 3, 4;
        PERFORM @A@.rank_periods(NULL, NULL);
        CREATE UNIQUE INDEX product_ranking_key ON @A@.product_ranking (period, period_start, product_id);
        RETURN 'full: ' || why;
    END IF;
    IF cardinality(days) > 0 THEN
        PERFORM @A@.rank_periods(weeks, months);
    END IF;
    -- a product renamed: its name in the rankings
    IF cardinality(products) > 0 THEN
        UPDATE @A@.product_ranking r SET product = pr.name, category = pr.category
          FROM (SELECT k.id, p.name::text AS name, p.category::text AS category
                  FROM unnest(products) k(id) LEFT JOIN @S@.products p ON p.id = k.id) pr
         WHERE r.product_id = pr.id AND (r.product, r.category) IS DISTINCT FROM (pr.name, pr.category);
    END IF;
    RETURN format('incremental: %s business days, %s orders, %s customers, %s products', cardinality(days), n_orders,
                  (SELECT count(*) FROM pg_temp.ecsync_rollup_users), cardinality(products));
END
$t$;
$body$, '@A@', a), '@S@', s), '@SOLD@', sold), '@PAID@', paid), '@LAYER@', quote_literal(analytics_schema));
    EXECUTE body;
    EXECUTE format('REVOKE ALL ON FUNCTION %1$s.record_changes(), %1$s.watch_shop(), %1$s.rank_periods(date[], date[]), %1$s.refresh_rollups(boolean) FROM PUBLIC', a);
    EXECUTE format('SELECT %s.watch_shop()', a);
    EXECUTE format('SELECT %s.refresh_rollups(true)', a);

    -- the caller's, recorded so the owner's batch runs refresh the rollups
    PERFORM @extschema@.ecsync_catalog_call('register_analytics', jsonb_build_object(
        'schema_name', analytics_schema, 'shop_schema', shop_schema, 'page_views', pv::text,
        'business_zone', business_zone, 'matviews', to_jsonb(matviews),
        'refresh_with_runs', coalesce(refresh_with_runs, true)));
    SELECT count(*) INTO n FROM pg_class c WHERE c.relnamespace = analytics_schema::regnamespace AND c.relkind IN ('v', 'm', 'r');
    RETURN format('%s views, tables and materialized views in schema %s', n, analytics_schema);
END
$fn$;

COMMENT ON FUNCTION ecsync_create_analytics(name, regclass, text, name, boolean) IS
  'build (or rebuild) the analytics schema Metabase charts, over the synced shop tables and the page-view stream';

/*
 * ecsync_refresh_analytics brings the rollups of the caller's analytics
 * layers (all, or the one named) up to date.  A 0.7 layer recomputes what
 * changed since its last refresh (its refresh_rollups(), everything with
 * full_refresh) and refreshes pages_before_purchase; a layer made before
 * 0.7 refreshes its materialized views.  Each layer is refreshed on its
 * own: one that fails is recorded in ecsync.analytics_layers.last_error and
 * the others go on.  Every batch run calls it (with_runs_only: the layers
 * made with refresh_with_runs), as the owner of the registrations it
 * synced, in its own transaction.  Returns the number of layers refreshed.
 */
DROP FUNCTION ecsync_refresh_analytics(name, boolean);
CREATE FUNCTION ecsync_refresh_analytics(analytics_schema name DEFAULT NULL, with_runs_only boolean DEFAULT false,
                                         full_refresh boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET work_mem = '256MB'
AS $fn$
DECLARE
    l ecsync.analytics_layers;
    mv text;
    t0 timestamptz;
    how text;
    n integer := 0;
BEGIN
    FOR l IN SELECT * FROM ecsync.analytics_layers al
              WHERE (analytics_schema IS NULL OR al.schema_name = analytics_schema)
                AND (NOT with_runs_only OR al.refresh_with_runs)
                AND to_regnamespace(quote_ident(al.schema_name)) IS NOT NULL   -- dropped: nothing to do
                AND pg_has_role(al.owner, 'MEMBER')
              ORDER BY al.schema_name LOOP
        t0 := clock_timestamp();
        how := NULL;
        BEGIN
            IF to_regprocedure(format('%I.refresh_rollups(boolean)', l.schema_name)) IS NOT NULL THEN
                EXECUTE format('SELECT %I.refresh_rollups($1)', l.schema_name) INTO how USING coalesce(full_refresh, false);
            ELSE
                how := 'materialized views';
            END IF;
            FOREACH mv IN ARRAY l.matviews LOOP
                EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', l.schema_name, mv);
            END LOOP;
            PERFORM @extschema@.ecsync_catalog_call('analytics_refreshed', jsonb_build_object(
                'schema_name', l.schema_name, 'seconds', extract(epoch FROM clock_timestamp() - t0), 'mode', how));
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

COMMENT ON FUNCTION ecsync_refresh_analytics(name, boolean, boolean) IS
  'bring the rollups of the caller''s analytics layers up to date (every batch run does it; full_refresh: recompute everything); returns how many';

GRANT EXECUTE ON FUNCTION ecsync_refresh_analytics(name, boolean, boolean) TO PUBLIC;
