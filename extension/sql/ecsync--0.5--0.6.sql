/* ecsync 0.5 -> 0.6: live shop tables by change capture from the binary log.
 *
 * - ecsync_register_table(..., mode => 'cdc') registers a table whose
 *   changes a change-capture worker applies as they commit in MySQL;
 * - ecsync_start_cdc(server) / ecsync_stop_cdc(server): one worker per
 *   MySQL server, kept by the launcher across restarts.  It snapshots new
 *   tables through the batch path (one consistent MySQL snapshot, whose
 *   binary log position it records), then streams the binary log from
 *   there, storing the position in the transaction that applies the rows;
 * - ecsync_cdc_resnapshot(server, target): copy a table (or all of a
 *   server's) anew, after a paused schema change or a purged binary log;
 * - ecsync.cdc_status and ecsync.cdc_table_status: positions, lag, rate,
 *   errors, and each table's state.
 */
\echo Use "ALTER EXTENSION ecsync UPDATE TO '0.6'" to load this file. \quit

---------------------------------------------------------------- catalog

ALTER TABLE ecsync.sync_tables DROP CONSTRAINT sync_tables_mode_check;
ALTER TABLE ecsync.sync_tables ADD CONSTRAINT sync_tables_mode_check
    CHECK (mode IN ('full', 'incremental', 'cdc'));
ALTER TABLE ecsync.sync_tables DROP CONSTRAINT sync_tables_check;
ALTER TABLE ecsync.sync_tables ADD CONSTRAINT sync_tables_check
    CHECK (mode <> 'incremental' OR cursor_column IS NOT NULL);
COMMENT ON TABLE ecsync.sync_tables IS
  'MySQL tables that ecsync_run_batch() syncs (full, incremental) or that change capture keeps live (cdc)';

CREATE TABLE ecsync.cdc_servers (
    id              serial UNIQUE,
    server_name     name PRIMARY KEY,
    owner           oid NOT NULL,
    state           text NOT NULL DEFAULT 'started' CHECK (state IN ('started', 'stopped')),
    config_version  integer NOT NULL DEFAULT 1,
    binlog_file     text,           -- where the next transaction to apply starts
    binlog_pos      bigint,
    gtid            text,           -- the last applied transaction's GTID (domain-server-sequence)
    source_time     timestamptz,    -- when MySQL logged the last applied transaction
    applied_at      timestamptz,    -- when it was applied here
    transactions    bigint NOT NULL DEFAULT 0,
    rows_applied    bigint NOT NULL DEFAULT 0,
    server_file     text,           -- the end of MySQL's binary log, as last seen
    server_pos      bigint,
    lag_bytes       bigint,
    rows_per_second double precision,
    stats_at        timestamptz,
    worker_pid      integer,
    last_error      text,
    last_error_at   timestamptz,
    started_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ecsync.cdc_servers IS
  'MySQL servers whose binary log a change-capture worker applies; binlog_file/binlog_pos move in the '
  'transaction that applies the rows they cover';

CREATE TABLE ecsync.cdc_tables (
    sync_table_id   integer PRIMARY KEY REFERENCES ecsync.sync_tables (id) ON DELETE CASCADE,
    state           text NOT NULL DEFAULT 'snapshot' CHECK (state IN ('snapshot', 'streaming', 'paused')),
    snapshot_file   text,           -- the snapshot's binary log position: changes after it apply
    snapshot_pos    bigint,
    snapshot_at     timestamptz,
    inserts         bigint NOT NULL DEFAULT 0,
    updates         bigint NOT NULL DEFAULT 0,
    deletes         bigint NOT NULL DEFAULT 0,
    last_change_at  timestamptz,
    error           text,
    error_at        timestamptz,
    schema_change   text,           -- the last MySQL schema change followed (cdc_schema_changes follow)
    schema_change_at timestamptz
);
COMMENT ON TABLE ecsync.cdc_tables IS
  'the state of each cdc-mode table: snapshot (to be copied), streaming, or paused (error says why and what to do)';

ALTER TABLE ecsync.cdc_servers ENABLE ROW LEVEL SECURITY;
CREATE POLICY cdc_servers_of_owner ON ecsync.cdc_servers FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));
ALTER TABLE ecsync.cdc_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY cdc_tables_of_owner ON ecsync.cdc_tables FOR SELECT
    USING (EXISTS (SELECT 1 FROM ecsync.sync_tables t
                    WHERE t.id OPERATOR(pg_catalog.=) cdc_tables.sync_table_id));

---------------------------------------------------------------- registration

-- a cdc table gets its state row; a change of source or mode snapshots anew;
-- the server's worker restarts to take the change in
CREATE OR REPLACE FUNCTION ecsync.cdc_registered(caller oid, table_id integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t ecsync.sync_tables;
BEGIN
    SELECT * INTO t FROM ecsync.sync_tables WHERE id = table_id;
    IF t.mode = 'cdc' THEN
        INSERT INTO ecsync.cdc_tables (sync_table_id) VALUES (table_id)
        ON CONFLICT (sync_table_id) DO UPDATE
           SET state = 'snapshot', snapshot_file = NULL, snapshot_pos = NULL, error = NULL, error_at = NULL;
    ELSE
        DELETE FROM ecsync.cdc_tables WHERE sync_table_id = table_id;
    END IF;
    UPDATE ecsync.cdc_servers SET config_version = config_version + 1 WHERE server_name = t.server_name;
    PERFORM @extschema@.ecsync_wake_launcher();
END
$$;

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
    IF v_mode IS NULL OR v_mode NOT IN ('full', 'incremental', 'cdc') THEN
        RAISE EXCEPTION 'mode must be ''full'', ''incremental'' or ''cdc'', not ''%''', v_mode
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
    IF v_mode = 'cdc' AND EXISTS (SELECT 1 FROM ecsync.cdc_servers s
                                   WHERE s.server_name = a->>'server' AND s.owner <> v_owner) THEN
        RAISE EXCEPTION 'change capture of server "%" belongs to another role', a->>'server'
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'One role captures a MySQL server''s changes; register the table as that role.';
    END IF;
    target := to_regclass(format('%I.%I', v_schema, v_table));
    IF target IS NOT NULL THEN
        PERFORM ecsync.check_target(target, v_owner,
                CASE v_mode WHEN 'full' THEN 'INSERT, TRUNCATE'
                            WHEN 'cdc' THEN 'INSERT, UPDATE, DELETE, TRUNCATE'
                            ELSE 'INSERT, UPDATE' END);
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
    -- a cdc table re-registered unchanged keeps its state; any change snapshots it anew
    IF v_mode = 'cdc' OR prev.mode = 'cdc' THEN
        IF prev.id IS NULL OR v_mode <> 'cdc' OR NOT EXISTS (SELECT 1 FROM ecsync.cdc_tables c WHERE c.sync_table_id = new_id)
           OR (prev.server_name, prev.source_database, prev.source_table, prev.mode, prev.key_columns,
               prev.columns, prev.exclude_columns)
              IS DISTINCT FROM
              (a->>'server', a->>'source_database', a->>'source_table', v_mode,
               (SELECT array_agg(e) FROM jsonb_array_elements_text(
                   CASE jsonb_typeof(a->'key_columns') WHEN 'array' THEN a->'key_columns' ELSE '[]' END) e),
               (SELECT array_agg(e) FROM jsonb_array_elements_text(
                   CASE jsonb_typeof(a->'columns') WHEN 'array' THEN a->'columns' ELSE '[]' END) e),
               (SELECT array_agg(e) FROM jsonb_array_elements_text(
                   CASE jsonb_typeof(a->'exclude_columns') WHEN 'array' THEN a->'exclude_columns' ELSE '[]' END) e))
        THEN
            PERFORM ecsync.cdc_registered(caller, new_id);
        END IF;
    END IF;
    RETURN to_jsonb(new_id);
END
$$;

CREATE OR REPLACE FUNCTION ecsync.catalog_unregister_table(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev ecsync.sync_tables;
BEGIN
    SELECT * INTO prev FROM ecsync.sync_tables t
     WHERE t.target_schema = a->>'target_schema' AND t.target_table = a->>'target_table' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'false'::jsonb;
    END IF;
    PERFORM ecsync.check_owner(caller, prev.owner,
            format('the registration of %I.%I', prev.target_schema, prev.target_table));
    DELETE FROM ecsync.sync_tables WHERE id = prev.id;
    IF prev.mode = 'cdc' THEN
        UPDATE ecsync.cdc_servers SET config_version = config_version + 1 WHERE server_name = prev.server_name;
        PERFORM @extschema@.ecsync_wake_launcher();
    END IF;
    RETURN 'true'::jsonb;
END
$$;

---------------------------------------------------------------- change capture

CREATE FUNCTION ecsync.catalog_change_cdc(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_server name := a->>'server';
    v_state text := a->>'state';
    prev ecsync.cdc_servers;
BEGIN
    PERFORM ecsync.check_server(v_server, 'ecsync_mysql', caller);
    IF v_state NOT IN ('started', 'stopped') THEN
        RAISE EXCEPTION 'invalid change capture state "%"', v_state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO prev FROM ecsync.cdc_servers s WHERE s.server_name = v_server FOR UPDATE;
    IF FOUND THEN
        PERFORM ecsync.check_owner(caller, prev.owner, format('change capture of server "%s"', v_server));
        UPDATE ecsync.cdc_servers s
           SET state = v_state,
               config_version = s.config_version + 1,
               last_error = CASE WHEN v_state = 'started' THEN NULL ELSE s.last_error END,
               last_error_at = CASE WHEN v_state = 'started' THEN NULL ELSE s.last_error_at END,
               started_at = CASE WHEN v_state = 'started' THEN now() ELSE s.started_at END
         WHERE s.server_name = v_server;
    ELSIF v_state = 'started' THEN
        PERFORM ecsync.check_login(caller);
        IF NOT EXISTS (SELECT 1 FROM ecsync.sync_tables t
                        WHERE t.server_name = v_server AND t.mode = 'cdc' AND t.owner = caller) THEN
            RAISE EXCEPTION 'no table of server "%" is registered for change capture', v_server
                  USING ERRCODE = 'no_data_found',
                        HINT = 'Register tables with ecsync_register_table(..., mode => ''cdc'') first.';
        END IF;
        IF EXISTS (SELECT 1 FROM ecsync.sync_tables t
                    WHERE t.server_name = v_server AND t.mode = 'cdc' AND t.owner <> caller) THEN
            RAISE EXCEPTION 'another role registered tables of server "%" for change capture', v_server
                  USING ERRCODE = 'insufficient_privilege',
                        HINT = 'One role captures a MySQL server''s changes.';
        END IF;
        INSERT INTO ecsync.cdc_servers (server_name, owner, state) VALUES (v_server, caller, 'started');
    ELSE
        RETURN 'false'::jsonb;
    END IF;
    PERFORM @extschema@.ecsync_check_stream_database();
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN 'true'::jsonb;
END
$$;

CREATE FUNCTION ecsync.catalog_cdc_resnapshot(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_server name := a->>'server';
    prev ecsync.cdc_servers;
    n integer;
BEGIN
    SELECT * INTO prev FROM ecsync.cdc_servers s WHERE s.server_name = v_server FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'change capture of server "%" was never started', v_server
              USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM ecsync.check_owner(caller, prev.owner, format('change capture of server "%s"', v_server));
    UPDATE ecsync.cdc_tables c
       SET state = 'snapshot', snapshot_file = NULL, snapshot_pos = NULL, error = NULL, error_at = NULL
      FROM ecsync.sync_tables t
     WHERE t.id = c.sync_table_id AND t.server_name = v_server AND t.owner = prev.owner
       AND (a->>'target' IS NULL
            OR a->>'target' IN (format('%I.%I', t.target_schema, t.target_table),
                                t.target_schema || '.' || t.target_table, t.target_table));
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 AND a->>'target' IS NOT NULL THEN
        RAISE EXCEPTION 'table "%" is not a change-capture table of server "%"', a->>'target', v_server
              USING ERRCODE = 'undefined_table';
    END IF;
    -- every table anew: the stream starts from the new snapshot
    IF a->>'target' IS NULL THEN
        UPDATE ecsync.cdc_servers SET binlog_file = NULL, binlog_pos = NULL, gtid = NULL
         WHERE server_name = v_server;
    END IF;
    UPDATE ecsync.cdc_servers s
       SET config_version = s.config_version + 1, last_error = NULL, last_error_at = NULL
     WHERE s.server_name = v_server;
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN to_jsonb(n);
END
$$;

REVOKE ALL ON FUNCTION ecsync.cdc_registered(oid, integer),
                       ecsync.catalog_change_cdc(oid, jsonb),
                       ecsync.catalog_cdc_resnapshot(oid, jsonb)
  FROM PUBLIC;

CREATE FUNCTION ecsync_start_cdc(server name)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.ecsync_catalog_call('change_cdc', jsonb_build_object('server', server, 'state', 'started'));
$$;
COMMENT ON FUNCTION ecsync_start_cdc(name) IS
  'start applying the binary log of a MySQL server to its cdc-mode tables (snapshotting new ones first); '
  'it stays started across restarts';

CREATE FUNCTION ecsync_stop_cdc(server name)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.ecsync_catalog_call('change_cdc', jsonb_build_object('server', server, 'state', 'stopped'));
$$;
COMMENT ON FUNCTION ecsync_stop_cdc(name) IS
  'stop change capture of a MySQL server (the worker commits what it applied first); a start resumes where it stopped';

CREATE FUNCTION ecsync_cdc_resnapshot(server name, target text DEFAULT NULL)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.ecsync_catalog_call('cdc_resnapshot',
            jsonb_build_object('server', server, 'target', target)) #>> '{}')::integer
$$;
COMMENT ON FUNCTION ecsync_cdc_resnapshot(name, text) IS
  'copy a change-capture table (or, without a target, all of the server''s) anew from a new snapshot, '
  'then stream from there: after a paused schema change, or a binary log purged before it was read';

---------------------------------------------------------------- observability

CREATE VIEW ecsync.cdc_status WITH (security_invoker = true) AS
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
       s.last_error_at
  FROM ecsync.cdc_servers s;
COMMENT ON VIEW ecsync.cdc_status IS
  'per MySQL server: the binary log position applied, the server''s own, the lag in bytes and seconds, '
  'the rate, the tables by state and the last error';

CREATE VIEW ecsync.cdc_table_status WITH (security_invoker = true) AS
SELECT t.id, t.target_schema || '.' || t.target_table AS table_name,
       t.server_name, coalesce(t.source_database || '.', '') || t.source_table AS source,
       c.state, c.snapshot_file || ':' || c.snapshot_pos AS snapshot_position, c.snapshot_at,
       c.inserts, c.updates, c.deletes, c.last_change_at, c.error, c.error_at,
       c.schema_change, c.schema_change_at
  FROM ecsync.sync_tables t JOIN ecsync.cdc_tables c ON c.sync_table_id = t.id;
COMMENT ON VIEW ecsync.cdc_table_status IS
  'each change-capture table: snapshot (waiting to be copied), streaming, or paused with the reason and what to do; '
  'schema_change: the last MySQL schema change it followed by being copied anew';

GRANT SELECT ON ecsync.cdc_servers, ecsync.cdc_tables, ecsync.cdc_status, ecsync.cdc_table_status TO PUBLIC;
GRANT EXECUTE ON FUNCTION ecsync_start_cdc(name), ecsync_stop_cdc(name), ecsync_cdc_resnapshot(name, text)
  TO PUBLIC;
