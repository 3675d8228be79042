/* ecsync 0.3 -> 0.4: fidelity and operations.
 *
 * - registrations choose their columns (columns / exclude_columns) and are
 *   checked against the MySQL source when it is reachable;
 * - ecsync_run_batch(isolation => 'table') commits or fails each table on
 *   its own and records the failures per table;
 * - stream targets and dead letters are keyed by topic as well as by
 *   partition and offset (see the streams section below).
 */
\echo Use "ALTER EXTENSION ecsync UPDATE TO '0.4'" to load this file. \quit

---------------------------------------------------------------- batch catalog

ALTER TABLE ecsync.sync_tables ADD COLUMN columns text[];
ALTER TABLE ecsync.sync_tables ADD COLUMN exclude_columns text[];
COMMENT ON COLUMN ecsync.sync_tables.columns IS
  'the MySQL columns synced (NULL: all of them, less exclude_columns)';
COMMENT ON COLUMN ecsync.sync_tables.exclude_columns IS
  'MySQL columns left out of the sync';
ALTER TABLE ecsync.sync_tables ADD COLUMN reread_from text;
COMMENT ON COLUMN ecsync.sync_tables.reread_from IS
  'a cursor that is not a date or time: the watermark the last run started from, where the next re-reads';
ALTER TABLE ecsync.sync_tables ADD COLUMN snapshot_before timestamptz;
COMMENT ON COLUMN ecsync.sync_tables.snapshot_before IS
  'the MySQL snapshot the table was last synced from was taken after this; an older one never overwrites it';

ALTER TABLE ecsync.runs DROP CONSTRAINT runs_status_check;
ALTER TABLE ecsync.runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'partial'));
ALTER TABLE ecsync.runs ADD COLUMN isolation text NOT NULL DEFAULT 'run'
    CHECK (isolation IN ('run', 'table'));
COMMENT ON COLUMN ecsync.runs.isolation IS
  'run: every table in one transaction; table: each table commits or fails on its own';
COMMENT ON COLUMN ecsync.runs.status IS
  'running, succeeded, failed (nothing committed), or partial (isolation table: some tables failed)';

ALTER TABLE ecsync.run_tables ADD COLUMN status text NOT NULL DEFAULT 'succeeded'
    CHECK (status IN ('succeeded', 'failed', 'skipped'));
ALTER TABLE ecsync.run_tables ADD COLUMN error text;
COMMENT ON TABLE ecsync.run_tables IS
  'per table of each run: rows and seconds, or (isolation table) the error of a table that failed alone';

CREATE OR REPLACE VIEW ecsync.status AS
SELECT t.id, t.target_schema || '.' || t.target_table AS table_name,
       t.server_name, coalesce(t.source_database || '.', '') || t.source_table AS source,
       t.mode, t.enabled, t.watermark,
       last_ok.finished_at AS last_success, last_ok.rows_read AS last_rows_read,
       last_ok.rows_written AS last_rows_written, last_ok.seconds AS last_seconds,
       now() - last_ok.finished_at AS since_last_success,
       last_fail.finished_at AS last_failure, last_fail.error AS last_error,
       t.owner::regrole AS owner
  FROM ecsync.sync_tables t
  LEFT JOIN LATERAL (
        SELECT r.run_id, r.finished_at, rt.rows_read, rt.rows_written, rt.seconds
          FROM ecsync.run_tables rt JOIN ecsync.runs r USING (run_id)
         WHERE rt.sync_table_id = t.id AND rt.status = 'succeeded'
         ORDER BY r.run_id DESC LIMIT 1) last_ok ON true
  LEFT JOIN LATERAL (
        SELECT f.finished_at, f.error FROM (
            -- a whole run that failed (nothing committed) ...
            SELECT r.run_id, r.finished_at, r.error FROM ecsync.runs r
             WHERE r.status = 'failed' AND r.owner = t.owner
               AND (r.only_table IS NULL OR r.only_table = t.id)
            UNION ALL
            -- ... or this table alone, in a run with isolation 'table'
            SELECT r.run_id, r.finished_at, rt.error
              FROM ecsync.run_tables rt JOIN ecsync.runs r USING (run_id)
             WHERE rt.sync_table_id = t.id AND rt.status = 'failed') f
         WHERE f.run_id > coalesce(last_ok.run_id, 0)
         ORDER BY f.run_id DESC LIMIT 1) last_fail ON true;
ALTER VIEW ecsync.status SET (security_invoker = true);

---------------------------------------------------------------- registration

-- ecsync_check_source reads the MySQL table (with the caller's user
-- mapping) and raises what is wrong with a registration; a NOTICE, not an
-- error, when the server cannot be reached now.
CREATE FUNCTION ecsync_check_source(server name, source_database text, source_table text,
                                    mode text, key_columns text[], cursor_column text,
                                    columns text[], exclude_columns text[])
RETURNS boolean
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_check_source';
COMMENT ON FUNCTION ecsync_check_source(name, text, text, text, text[], text, text[], text[]) IS
  'check a registration against its MySQL table: true if checked, false if the server was unreachable';

CREATE OR REPLACE FUNCTION ecsync.catalog_register_table(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_schema name := a->>'target_schema';
    v_table name := a->>'target_table';
    v_mode text := a->>'mode';
    v_cursor text := a->>'cursor_column';
    prev ecsync.sync_tables;
    v_owner oid;
    target regclass;
    new_id integer;
BEGIN
    PERFORM ecsync.check_server(a->>'server', 'ecsync_mysql', caller);
    IF v_mode IS NULL OR v_mode NOT IN ('full', 'incremental') THEN
        RAISE EXCEPTION 'mode must be ''full'' or ''incremental'', not ''%''', v_mode
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF a->>'source_table' IS NULL OR v_schema IS NULL OR v_table IS NULL THEN
        RAISE EXCEPTION 'source_table, target_table and target_schema are required'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(a->'columns') = 'array' AND jsonb_array_length(a->'columns') = 0 THEN
        RAISE EXCEPTION 'columns is empty; pass NULL to sync every column'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO prev FROM ecsync.sync_tables t
     WHERE t.target_schema = v_schema AND t.target_table = v_table FOR UPDATE;
    IF FOUND THEN
        PERFORM ecsync.check_owner(caller, prev.owner, format('the registration of %I.%I', v_schema, v_table));
    END IF;
    v_owner := coalesce(prev.owner, caller);
    PERFORM ecsync.check_login(v_owner);
    target := to_regclass(format('%I.%I', v_schema, v_table));
    IF target IS NOT NULL THEN
        PERFORM ecsync.check_target(target, v_owner,
                CASE v_mode WHEN 'full' THEN 'INSERT, TRUNCATE' ELSE 'INSERT, UPDATE' END);
    END IF;
    IF v_mode = 'incremental' THEN
        v_cursor := coalesce(v_cursor, 'updated_at');
    END IF;
    INSERT INTO ecsync.sync_tables AS t (server_name, source_database, source_table,
           target_schema, target_table, mode, key_columns, cursor_column, lookback, owner,
           columns, exclude_columns)
    VALUES (a->>'server', a->>'source_database', a->>'source_table', v_schema, v_table, v_mode,
            (SELECT array_agg(e) FROM jsonb_array_elements_text(
                CASE jsonb_typeof(a->'key_columns') WHEN 'array' THEN a->'key_columns' ELSE '[]' END) e),
            v_cursor, coalesce((a->>'lookback')::interval, '5 minutes'), v_owner,
            (SELECT array_agg(e) FROM jsonb_array_elements_text(
                CASE jsonb_typeof(a->'columns') WHEN 'array' THEN a->'columns' ELSE '[]' END) e),
            (SELECT array_agg(e) FROM jsonb_array_elements_text(
                CASE jsonb_typeof(a->'exclude_columns') WHEN 'array' THEN a->'exclude_columns' ELSE '[]' END) e))
    ON CONFLICT ON CONSTRAINT sync_tables_target_schema_target_table_key DO UPDATE
       SET server_name = excluded.server_name, source_database = excluded.source_database,
           source_table = excluded.source_table, mode = excluded.mode,
           key_columns = excluded.key_columns, cursor_column = excluded.cursor_column,
           lookback = excluded.lookback, columns = excluded.columns,
           exclude_columns = excluded.exclude_columns,
           -- a changed source or mode starts incremental syncs afresh
           watermark = CASE WHEN (t.server_name, t.source_database, t.source_table, t.mode, t.cursor_column)
                                 IS NOT DISTINCT FROM
                                 (excluded.server_name, excluded.source_database, excluded.source_table,
                                  excluded.mode, excluded.cursor_column)
                            THEN t.watermark END,
           reread_from = CASE WHEN (t.server_name, t.source_database, t.source_table, t.mode, t.cursor_column)
                                   IS NOT DISTINCT FROM
                                   (excluded.server_name, excluded.source_database, excluded.source_table,
                                    excluded.mode, excluded.cursor_column)
                              THEN t.reread_from END,
           enabled = true
    RETURNING id INTO new_id;
    RETURN to_jsonb(new_id);
END
$$;

DROP FUNCTION ecsync_register_shop(name, name, text, text);
DROP FUNCTION ecsync_register_table(name, text, name, text, text[], text, name, text, interval);

CREATE FUNCTION ecsync_register_table(
    server          name,
    source_table    text,
    target_table    name DEFAULT NULL,
    mode            text DEFAULT 'full',
    key_columns     text[] DEFAULT NULL,
    cursor_column   text DEFAULT NULL,
    target_schema   name DEFAULT 'public',
    source_database text DEFAULT NULL,
    lookback        interval DEFAULT '5 minutes',
    columns         text[] DEFAULT NULL,
    exclude_columns text[] DEFAULT NULL)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.ecsync_check_source(server, source_database, source_table, mode,
                                           key_columns, cursor_column, columns, exclude_columns);
    SELECT (@extschema@.ecsync_catalog_call('register_table', jsonb_build_object(
        'server', server, 'source_table', source_table,
        'target_table', coalesce(target_table, source_table::name), 'mode', mode,
        'key_columns', to_jsonb(key_columns), 'cursor_column', cursor_column,
        'target_schema', target_schema, 'source_database', source_database,
        'lookback', lookback, 'columns', to_jsonb(columns),
        'exclude_columns', to_jsonb(exclude_columns))) #>> '{}')::integer
$$;
COMMENT ON FUNCTION ecsync_register_table(name, text, name, text, text[], text, name, text, interval, text[], text[]) IS
  'register (or change) a MySQL table for ecsync_run_batch(), checked against MySQL when reachable; returns its id';

CREATE FUNCTION ecsync_register_shop(
    server        name,
    target_schema name DEFAULT 'shop',
    mode          text DEFAULT 'incremental',
    source_database text DEFAULT NULL)
RETURNS SETOF ecsync.sync_tables
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    ids integer[] := '{}';
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'products', 'sales', 'sales_details'] LOOP
        ids := ids || @extschema@.ecsync_register_table(server, t, t::name, mode, NULL, NULL,
                                                        target_schema, source_database);
    END LOOP;
    RETURN QUERY SELECT * FROM ecsync.sync_tables s WHERE s.id = ANY (ids) ORDER BY s.id;
END
$$;
COMMENT ON FUNCTION ecsync_register_shop(name, name, text, text) IS
  'register the shop tables users, products, sales and sales_details';

---------------------------------------------------------------- runs

DROP FUNCTION ecsync_run_batch(text);
CREATE FUNCTION ecsync_run_batch(target text DEFAULT NULL, isolation text DEFAULT 'run')
RETURNS TABLE (table_name text, mode text, rows_read bigint,
               rows_written bigint, seconds double precision,
               status text, error text)
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_run_batch';
COMMENT ON FUNCTION ecsync_run_batch(text, text) IS
  'sync every registered table of the caller (or only "target", as schema.table) from one MySQL snapshot; '
  'isolation ''run'' (default): all or nothing; ''table'': each table commits or fails on its own';

DROP FUNCTION ecsync_reconcile_deletes(text);
CREATE FUNCTION ecsync_reconcile_deletes(target text DEFAULT NULL)
RETURNS TABLE (table_name text, mode text, rows_read bigint,
               rows_written bigint, seconds double precision,
               status text, error text)
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_reconcile_deletes';
COMMENT ON FUNCTION ecsync_reconcile_deletes(text) IS
  'delete target rows whose key no longer exists in MySQL (rows_written = rows deleted); '
  'without a target, every incremental table (full syncs need no reconciliation)';

GRANT EXECUTE ON FUNCTION
    ecsync_check_source(name, text, text, text, text[], text, text[], text[]),
    ecsync_register_table(name, text, name, text, text[], text, name, text, interval, text[], text[]),
    ecsync_register_shop(name, name, text, text),
    ecsync_run_batch(text, text),
    ecsync_reconcile_deletes(text)
  TO PUBLIC;
