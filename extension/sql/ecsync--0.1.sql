/* ecsync--0.1.sql */

\echo Use "CREATE EXTENSION ecsync" to load this file. \quit

-- ecsync's own state lives in schema ecsync; its functions in the
-- extension's schema.  Nothing here is granted to PUBLIC.
CREATE SCHEMA ecsync;
REVOKE ALL ON SCHEMA ecsync FROM PUBLIC;

CREATE FUNCTION ecsync_version()
RETURNS text
LANGUAGE C STRICT IMMUTABLE
AS 'MODULE_PATHNAME', 'ecsync_version';
COMMENT ON FUNCTION ecsync_version() IS 'version of the loaded ecsync library';

CREATE FUNCTION ecsync_library_versions(OUT library text, OUT version text)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_library_versions';
COMMENT ON FUNCTION ecsync_library_versions() IS
  'client libraries (libmysqlclient, librdkafka, jansson) ecsync runs with';

---------------------------------------------------------------- MySQL sources

-- A MySQL source is a foreign server of this wrapper: host, port, database
-- and TLS in CREATE SERVER, user and password only in CREATE USER MAPPING.
CREATE FUNCTION ecsync_mysql_validator(text[], oid)
RETURNS void
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'ecsync_mysql_validator';

CREATE FOREIGN DATA WRAPPER ecsync_mysql VALIDATOR ecsync_mysql_validator;
COMMENT ON FOREIGN DATA WRAPPER ecsync_mysql IS
  'MySQL/MariaDB sources of ecsync_run_batch()';

------------------------------------------------------------- what to sync

CREATE TABLE ecsync.sync_tables (
    id              serial PRIMARY KEY,
    server_name     name NOT NULL,
    source_database text,           -- NULL: the server's "database" option
    source_table    text NOT NULL,
    target_schema   name NOT NULL,
    target_table    name NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('full', 'incremental')),
    key_columns     text[],         -- NULL: the MySQL primary key
    cursor_column   text,           -- incremental: the "updated at" column
    lookback        interval NOT NULL DEFAULT '5 minutes',
    watermark       text,           -- incremental: greatest cursor synced, as MySQL wrote it
    enabled         boolean NOT NULL DEFAULT true,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (target_schema, target_table),
    CHECK (mode = 'full' OR cursor_column IS NOT NULL),
    CHECK (lookback >= '0'::interval)
);
COMMENT ON TABLE ecsync.sync_tables IS 'MySQL tables that ecsync_run_batch() syncs';

CREATE FUNCTION ecsync_register_table(
    server          name,
    source_table    text,
    target_table    name DEFAULT NULL,
    mode            text DEFAULT 'full',
    key_columns     text[] DEFAULT NULL,
    cursor_column   text DEFAULT NULL,
    target_schema   name DEFAULT 'public',
    source_database text DEFAULT NULL,
    lookback        interval DEFAULT '5 minutes')
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    wrapper name;
    new_id integer;
BEGIN
    SELECT w.fdwname INTO wrapper
      FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
     WHERE s.srvname = server;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'server "%" does not exist', server
              USING ERRCODE = 'undefined_object',
                    HINT = 'Create it with CREATE SERVER ... FOREIGN DATA WRAPPER ecsync_mysql.';
    ELSIF wrapper <> 'ecsync_mysql' THEN
        RAISE EXCEPTION 'server "%" uses foreign-data wrapper "%", not ecsync_mysql', server, wrapper
              USING ERRCODE = 'wrong_object_type';
    END IF;
    IF mode NOT IN ('full', 'incremental') THEN
        RAISE EXCEPTION 'mode must be ''full'' or ''incremental'', not ''%''', mode
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO ecsync.sync_tables AS t (server_name, source_database, source_table,
           target_schema, target_table, mode, key_columns, cursor_column, lookback)
    VALUES (server, source_database, source_table, target_schema,
            coalesce(target_table, source_table::name), mode, key_columns,
            CASE WHEN mode = 'incremental' THEN coalesce(cursor_column, 'updated_at')
                 ELSE cursor_column END,
            lookback)
    ON CONFLICT ON CONSTRAINT sync_tables_target_schema_target_table_key DO UPDATE
       SET server_name = excluded.server_name, source_database = excluded.source_database,
           source_table = excluded.source_table, mode = excluded.mode,
           key_columns = excluded.key_columns, cursor_column = excluded.cursor_column,
           lookback = excluded.lookback,
           -- a changed source or mode starts incremental syncs afresh
           watermark = CASE WHEN (t.server_name, t.source_database, t.source_table, t.mode, t.cursor_column)
                                 IS NOT DISTINCT FROM
                                 (excluded.server_name, excluded.source_database, excluded.source_table,
                                  excluded.mode, excluded.cursor_column)
                            THEN t.watermark END,
           enabled = true
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION ecsync_register_table(name, text, name, text, text[], text, name, text, interval) IS
  'register (or change) a MySQL table for ecsync_run_batch(); returns its id';

CREATE FUNCTION ecsync_unregister_table(target_table name, target_schema name DEFAULT 'public')
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (DELETE FROM ecsync.sync_tables t
                WHERE t.target_schema = $2 AND t.target_table = $1 RETURNING 1)
    SELECT count(*) > 0 FROM d
$$;
COMMENT ON FUNCTION ecsync_unregister_table(name, name) IS
  'stop syncing a table (its target table is kept)';

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

------------------------------------------------------------------ runs

CREATE TABLE ecsync.runs (
    run_id        bigserial PRIMARY KEY,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'succeeded', 'failed')),
    requested_by  name NOT NULL,
    worker_pid    integer,
    only_table    integer,          -- ecsync.sync_tables.id, NULL for all
    rows_written  bigint,
    error         text
);
CREATE INDEX ON ecsync.runs (started_at);
COMMENT ON TABLE ecsync.runs IS 'one row per ecsync_run_batch() call';

CREATE TABLE ecsync.run_tables (
    run_id        bigint NOT NULL REFERENCES ecsync.runs ON DELETE CASCADE,
    sync_table_id integer NOT NULL,
    table_name    text NOT NULL,
    mode          text NOT NULL,
    rows_read     bigint NOT NULL,
    rows_written  bigint NOT NULL,
    seconds       double precision NOT NULL,
    copy_format   text NOT NULL,    -- binary or text (see ecsync.batch_copy_format)
    PRIMARY KEY (run_id, sync_table_id)
);
COMMENT ON TABLE ecsync.run_tables IS 'rows per table of each successful run';

CREATE VIEW ecsync.status AS
SELECT t.id, t.target_schema || '.' || t.target_table AS table_name,
       t.server_name, coalesce(t.source_database || '.', '') || t.source_table AS source,
       t.mode, t.enabled, t.watermark,
       last_ok.finished_at AS last_success, last_ok.rows_read AS last_rows_read,
       last_ok.rows_written AS last_rows_written, last_ok.seconds AS last_seconds,
       now() - last_ok.finished_at AS since_last_success,
       last_fail.finished_at AS last_failure, last_fail.error AS last_error
  FROM ecsync.sync_tables t
  LEFT JOIN LATERAL (
        SELECT r.finished_at, rt.rows_read, rt.rows_written, rt.seconds
          FROM ecsync.run_tables rt JOIN ecsync.runs r USING (run_id)
         WHERE rt.sync_table_id = t.id ORDER BY r.run_id DESC LIMIT 1) last_ok ON true
  LEFT JOIN LATERAL (
        SELECT r.finished_at, r.error FROM ecsync.runs r
         WHERE r.status = 'failed' AND (r.only_table IS NULL OR r.only_table = t.id)
           AND r.run_id > coalesce((SELECT max(rt.run_id) FROM ecsync.run_tables rt
                                     WHERE rt.sync_table_id = t.id), 0)
         ORDER BY r.run_id DESC LIMIT 1) last_fail ON true;
COMMENT ON VIEW ecsync.status IS
  'per registered table: last success, rows, and the error of any failure since';

-- what a running batch is doing: pg_stat_progress_copy of its worker
CREATE VIEW ecsync.progress AS
SELECT r.run_id, r.started_at, a.pid, a.query AS activity,
       p.relid::regclass AS copying_into, p.tuples_processed
  FROM ecsync.runs r
  JOIN pg_stat_activity a ON a.pid = r.worker_pid AND a.backend_type = 'ecsync batch'
  LEFT JOIN pg_stat_progress_copy p ON p.pid = a.pid
 WHERE r.status = 'running';
COMMENT ON VIEW ecsync.progress IS 'batch runs in progress';

CREATE FUNCTION ecsync_run_batch(target text DEFAULT NULL)
RETURNS TABLE (table_name text, mode text, rows_read bigint,
               rows_written bigint, seconds double precision)
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_run_batch';
COMMENT ON FUNCTION ecsync_run_batch(text) IS
  'sync every registered table (or only "target", as schema.table) from MySQL, atomically';

CREATE FUNCTION ecsync_reconcile_deletes(target text DEFAULT NULL)
RETURNS TABLE (table_name text, mode text, rows_read bigint,
               rows_written bigint, seconds double precision)
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_reconcile_deletes';
COMMENT ON FUNCTION ecsync_reconcile_deletes(text) IS
  'delete target rows whose key no longer exists in MySQL (rows_written = rows deleted)';

REVOKE ALL ON FUNCTION ecsync_register_table(name, text, name, text, text[], text, name, text, interval),
                       ecsync_unregister_table(name, name),
                       ecsync_register_shop(name, name, text, text),
                       ecsync_run_batch(text),
                       ecsync_reconcile_deletes(text),
                       ecsync_mysql_validator(text[], oid)
  FROM PUBLIC;
