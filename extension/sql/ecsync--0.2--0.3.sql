/* ecsync--0.2--0.3.sql: the catalog becomes a privilege boundary */

\echo Use "ALTER EXTENSION ecsync UPDATE TO '0.3'" to load this file. \quit

-- The model (docs/security.md), as pg_cron keeps cron.job:
--  * every registration, run and dead letter has an owner (a role);
--  * roles read the catalog through row-level security: only the rows of
--    roles whose privileges they have (pg_has_role ... 'USAGE');
--  * nobody but the extension's owner writes the catalog.  The SQL
--    functions check what they can as the caller, then hand the write to
--    ecsync_catalog_call(), which takes the caller's identity itself and
--    runs ecsync.catalog_<op>(caller, args) as the extension's owner;
--    those functions check the caller's rights again;
--  * workers run as the registration's owner, whoever started them.

---------------------------------------------------------------- owners

ALTER TABLE ecsync.sync_tables ADD COLUMN owner oid;
UPDATE ecsync.sync_tables SET owner = (SELECT extowner FROM pg_extension WHERE extname = 'ecsync');
ALTER TABLE ecsync.sync_tables ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN ecsync.sync_tables.owner IS 'the role the table is synced as (who registered it)';

ALTER TABLE ecsync.runs ADD COLUMN owner oid;
UPDATE ecsync.runs r SET owner = coalesce((SELECT oid FROM pg_roles WHERE rolname = r.requested_by),
                                          (SELECT extowner FROM pg_extension WHERE extname = 'ecsync'));
ALTER TABLE ecsync.runs ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN ecsync.runs.owner IS 'the role whose registrations the run synced, and as which it ran';

ALTER TABLE ecsync.dead_letters ADD COLUMN owner oid;
UPDATE ecsync.dead_letters d SET owner = coalesce((SELECT s.owner FROM ecsync.streams s WHERE s.id = d.stream_id),
                                                  (SELECT extowner FROM pg_extension WHERE extname = 'ecsync'));
ALTER TABLE ecsync.dead_letters ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN ecsync.dead_letters.owner IS 'the owner of the stream that read the message';

---------------------------------------------------------------- C helpers

CREATE FUNCTION ecsync_catalog_call(op text, args jsonb)
RETURNS jsonb
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_catalog_call';
COMMENT ON FUNCTION ecsync_catalog_call(text, jsonb) IS
  'ecsync''s functions hand their catalog writes to this: it runs ecsync.catalog_<op>(the calling role, args) as the catalog''s owner';

CREATE FUNCTION ecsync_stream_workers(stream text)
RETURNS integer
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'ecsync_stream_workers';
COMMENT ON FUNCTION ecsync_stream_workers(text) IS
  'running workers of a stream, whatever the viewer may see of pg_stat_activity';

-- internal (schema ecsync, so that the catalog's owner never resolves
-- them through a worker's search_path)
CREATE FUNCTION ecsync.batch_worker_alive(pid integer)
RETURNS boolean
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'ecsync_batch_worker_alive';

CREATE FUNCTION ecsync.rls_applies(relid oid, role oid)
RETURNS boolean
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'ecsync_rls_applies';

-- ecsync_check_server: the server exists, is of the wrapper, and role may use it
CREATE FUNCTION ecsync.check_server(server name, fdw name, role oid)
RETURNS oid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv oid;
    wrapper name;
BEGIN
    SELECT s.oid, w.fdwname INTO srv, wrapper
      FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
     WHERE s.srvname = server;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'server "%" does not exist', server
              USING ERRCODE = 'undefined_object',
                    HINT = format('Create it with CREATE SERVER ... FOREIGN DATA WRAPPER %s.', fdw);
    ELSIF wrapper <> fdw THEN
        RAISE EXCEPTION 'server "%" uses foreign-data wrapper "%", not %', server, wrapper, fdw
              USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT has_server_privilege(role, srv, 'USAGE') THEN
        RAISE EXCEPTION 'role "%" may not use server "%"', pg_get_userbyid(role), server
              USING ERRCODE = 'insufficient_privilege',
                    HINT = format('The server''s owner can GRANT USAGE ON FOREIGN SERVER %I TO %I.',
                                  server, pg_get_userbyid(role));
    END IF;
    RETURN srv;
END
$$;

-- ecsync.check_owner: caller may act for owner (has its privileges)
CREATE FUNCTION ecsync.check_owner(caller oid, owner oid, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_has_role(caller, owner, 'USAGE') THEN
        RAISE EXCEPTION '% belongs to role "%"', what, coalesce(pg_get_userbyid(owner), owner::text)
              USING ERRCODE = 'insufficient_privilege',
                    HINT = 'Only its owner, members of its owner and superusers may change it.';
    END IF;
END
$$;

-- ecsync.check_login: workers connect as the owner, which PostgreSQL 15
-- allows only to a role that may log in
CREATE FUNCTION ecsync.check_login(role oid)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (SELECT r.rolcanlogin FROM pg_roles r WHERE r.oid = role) THEN
        RAISE EXCEPTION 'role "%" cannot log in, so ecsync''s workers cannot run as it', pg_get_userbyid(role)
              USING ERRCODE = 'invalid_authorization_specification',
                    HINT = format('ALTER ROLE %I LOGIN (it needs no password: the workers start inside the server), or register as a role that can log in.',
                                  pg_get_userbyid(role));
    END IF;
END
$$;

-- ecsync.check_target: role may write table target the way mode needs, without RLS
CREATE FUNCTION ecsync.check_target(target regclass, role oid, privileges text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT has_table_privilege(role, target, privileges) THEN
        RAISE EXCEPTION 'role "%" lacks % privilege on table %', pg_get_userbyid(role), privileges, target
              USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF ecsync.rls_applies(target, role) THEN
        RAISE EXCEPTION 'target table % has row-level security enabled for role "%"', target, pg_get_userbyid(role)
              USING ERRCODE = 'feature_not_supported',
                    DETAIL = 'ecsync writes with COPY, which does not apply row-level security policies.';
    END IF;
END
$$;

---------------------------------------------------------------- batch registrations

CREATE FUNCTION ecsync.catalog_register_table(caller oid, a jsonb)
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
           target_schema, target_table, mode, key_columns, cursor_column, lookback, owner)
    VALUES (a->>'server', a->>'source_database', a->>'source_table', v_schema, v_table, v_mode,
            (SELECT array_agg(e) FROM jsonb_array_elements_text(
                CASE jsonb_typeof(a->'key_columns') WHEN 'array' THEN a->'key_columns' ELSE '[]' END) e),
            v_cursor, coalesce((a->>'lookback')::interval, '5 minutes'), v_owner)
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
    RETURN to_jsonb(new_id);
END
$$;

CREATE FUNCTION ecsync.catalog_unregister_table(caller oid, a jsonb)
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
    RETURN 'true'::jsonb;
END
$$;

CREATE OR REPLACE FUNCTION ecsync_register_table(
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
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.ecsync_catalog_call('register_table', jsonb_build_object(
        'server', server, 'source_table', source_table,
        'target_table', coalesce(target_table, source_table::name), 'mode', mode,
        'key_columns', to_jsonb(key_columns), 'cursor_column', cursor_column,
        'target_schema', target_schema, 'source_database', source_database,
        'lookback', lookback)) #>> '{}')::integer
$$;

CREATE OR REPLACE FUNCTION ecsync_unregister_table(target_table name, target_schema name DEFAULT 'public')
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.ecsync_catalog_call('unregister_table', jsonb_build_object(
        'target_table', target_table, 'target_schema', target_schema)) #>> '{}')::boolean
$$;

---------------------------------------------------------------- streams

CREATE FUNCTION ecsync.catalog_register_stream(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_name text := a->>'name';
    v_group text := coalesce(a->>'consumer_group', 'ecsync_' || (a->>'name'));
    prev ecsync.streams;
    v_owner oid;
    target regclass;
    new_id integer;
BEGIN
    PERFORM ecsync.check_server(a->>'server', 'ecsync_kafka', caller);
    SELECT * INTO prev FROM ecsync.streams s WHERE s.name = v_name FOR UPDATE;
    IF FOUND THEN
        PERFORM ecsync.check_owner(caller, prev.owner, format('stream "%s"', v_name));
    END IF;
    v_owner := coalesce(prev.owner, caller);
    PERFORM ecsync.check_login(v_owner);
    target := to_regclass(format('%I.%I', a->>'target_schema', a->>'target_table'));
    IF target IS NULL THEN
        RAISE EXCEPTION 'table %.% does not exist', a->>'target_schema', a->>'target_table'
              USING ERRCODE = 'undefined_table';
    END IF;
    PERFORM ecsync.check_target(target, v_owner, 'INSERT');
    INSERT INTO ecsync.streams AS s (name, server_name, topic, target_schema, target_table,
           consumer_group, mapping, batch_size, max_latency, workers, start_from,
           max_message_bytes, decode_threads, owner)
    VALUES (v_name, a->>'server', a->>'topic', a->>'target_schema', a->>'target_table', v_group,
            a->'mapping', (a->>'batch_size')::integer, (a->>'max_latency')::interval,
            (a->>'workers')::integer, a->>'start_from', (a->>'max_message_bytes')::integer,
            (a->>'decode_threads')::integer, v_owner)
    ON CONFLICT ON CONSTRAINT streams_name_key DO UPDATE
       SET server_name = excluded.server_name, topic = excluded.topic,
           target_schema = excluded.target_schema, target_table = excluded.target_table,
           consumer_group = excluded.consumer_group, mapping = excluded.mapping,
           batch_size = excluded.batch_size, max_latency = excluded.max_latency,
           workers = excluded.workers, start_from = excluded.start_from,
           max_message_bytes = excluded.max_message_bytes,
           decode_threads = excluded.decode_threads,
           config_version = s.config_version + 1
    RETURNING id INTO new_id;
    -- a new topic or group starts from its own offsets
    IF prev.id IS NOT NULL AND (prev.topic, prev.consumer_group) IS DISTINCT FROM (a->>'topic', v_group) THEN
        DELETE FROM ecsync.stream_offsets o WHERE o.stream_id = new_id;
    END IF;
    PERFORM @extschema@.ecsync_check_stream_database();
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN to_jsonb(new_id);
END
$$;

CREATE FUNCTION ecsync.catalog_change_stream(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev ecsync.streams;
    v_state text := a->>'state';
BEGIN
    SELECT * INTO prev FROM ecsync.streams s WHERE s.name = a->>'name' FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stream "%" does not exist', a->>'name' USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM ecsync.check_owner(caller, prev.owner, format('stream "%s"', prev.name));
    IF v_state IS NOT NULL AND v_state NOT IN ('started', 'stopped') THEN
        RAISE EXCEPTION 'invalid stream state "%"', v_state USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE ecsync.streams s
       SET state = coalesce(v_state, s.state),
           config_version = s.config_version + CASE WHEN (a->>'restart')::boolean THEN 1 ELSE 0 END,
           -- a start is a fresh chance: the last error belongs to the past
           last_error = CASE WHEN v_state = 'started' THEN NULL ELSE s.last_error END,
           last_error_at = CASE WHEN v_state = 'started' THEN NULL ELSE s.last_error_at END
     WHERE s.id = prev.id;
    IF v_state = 'started' THEN
        PERFORM @extschema@.ecsync_check_stream_database();
    END IF;
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN 'true'::jsonb;
END
$$;

CREATE FUNCTION ecsync.catalog_unregister_stream(caller oid, a jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev ecsync.streams;
BEGIN
    SELECT * INTO prev FROM ecsync.streams s WHERE s.name = a->>'name' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'false'::jsonb;
    END IF;
    PERFORM ecsync.check_owner(caller, prev.owner, format('stream "%s"', prev.name));
    DELETE FROM ecsync.streams s WHERE s.id = prev.id;
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN 'true'::jsonb;
END
$$;

-- ecsync_register_stream: checks and creates the target as the caller, then
-- hands the registration to ecsync.catalog_register_stream
CREATE OR REPLACE FUNCTION ecsync_register_stream(
    name              text,
    server            name,
    topic             text DEFAULT 'page_views',
    target_table      name DEFAULT 'page_views',
    target_schema     name DEFAULT 'public',
    consumer_group    text DEFAULT NULL,
    mapping           jsonb DEFAULT NULL,
    batch_size        integer DEFAULT 20000,
    max_latency       interval DEFAULT '200 ms',
    workers           integer DEFAULT 1,
    start_from        text DEFAULT 'earliest',
    max_message_bytes integer DEFAULT 1048576,
    decode_threads    integer DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    m jsonb;
    src text;
    col text;
    typ text;
    target regclass;
    cols text[] := '{}';
    seen text[] := '{}';
    part_col text;
    off_col text;
    ts_cols text[] := '{}';
    qualified text := format('%I.%I', target_schema, target_table);
BEGIN
    PERFORM ecsync.check_server(server, 'ecsync_kafka', (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user));
    IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,40}$' THEN
        RAISE EXCEPTION 'invalid stream name "%"', name
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'Use 1 to 40 letters, digits, "_", "." or "-".';
    END IF;
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'batch_size must be from 1 to 1000000, not %', batch_size
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_latency IS NULL OR max_latency NOT BETWEEN '1 ms' AND '1 hour' THEN
        RAISE EXCEPTION 'max_latency must be from 1 ms to 1 hour, not %', max_latency
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF workers IS NULL OR workers NOT BETWEEN 1 AND 16 THEN
        RAISE EXCEPTION 'workers must be from 1 to 16, not %', workers
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF decode_threads IS NULL OR decode_threads NOT BETWEEN 1 AND 8 THEN
        RAISE EXCEPTION 'decode_threads must be from 1 to 8, not %', decode_threads
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF start_from IS NULL OR start_from NOT IN ('earliest', 'latest') THEN
        RAISE EXCEPTION 'start_from must be ''earliest'' or ''latest'', not %', start_from
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_message_bytes IS NULL OR max_message_bytes < 1 THEN
        RAISE EXCEPTION 'max_message_bytes must be positive, not %', max_message_bytes
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    mapping := coalesce(mapping, @extschema@.ecsync_page_view_mapping());
    IF jsonb_typeof(mapping) IS DISTINCT FROM 'array' OR jsonb_array_length(mapping) = 0 THEN
        RAISE EXCEPTION 'mapping must be a non-empty JSON array of {"column": ..., "key": ..., "type": ...}'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    target := to_regclass(qualified);

    -- check every entry; collect what CREATE TABLE would need
    FOR m IN SELECT e FROM jsonb_array_elements(mapping) e LOOP
        col := m->>'column';
        src := coalesce(m->>'source', 'json');
        IF jsonb_typeof(m) <> 'object' OR col IS NULL THEN
            RAISE EXCEPTION 'every mapping entry needs a "column": %', m
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF col = ANY (seen) THEN
            RAISE EXCEPTION 'column "%" is mapped twice', col USING ERRCODE = 'invalid_parameter_value';
        END IF;
        seen := seen || col;
        IF src NOT IN ('json', 'partition', 'offset', 'timestamp', 'key', 'ingest_time') THEN
            RAISE EXCEPTION 'mapping of column "%": unknown source "%"', col, src
                  USING ERRCODE = 'invalid_parameter_value',
                        HINT = 'Sources are json (the default: the event''s "key"), partition, offset, timestamp, key and ingest_time.';
        END IF;
        IF m ? 'required' AND jsonb_typeof(m->'required') <> 'boolean' THEN
            RAISE EXCEPTION 'mapping of column "%": "required" must be true or false', col
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF target IS NULL THEN
            typ := @extschema@.ecsync_stream_type(coalesce(m->>'type',
                     CASE src WHEN 'partition' THEN 'integer' WHEN 'offset' THEN 'bigint'
                              WHEN 'timestamp' THEN 'timestamptz' WHEN 'ingest_time' THEN 'timestamptz'
                              WHEN 'key' THEN 'text' END));
        ELSE
            SELECT @extschema@.ecsync_stream_type(format_type(a.atttypid, NULL)) INTO typ
              FROM pg_attribute a
             WHERE a.attrelid = target AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'table % has no column "%"', qualified, col
                      USING ERRCODE = 'undefined_column';
            END IF;
        END IF;
        IF typ IS NULL THEN
            RAISE EXCEPTION 'mapping of column "%": type % is not supported', col, coalesce(m->>'type', '(none given)')
                  USING ERRCODE = 'invalid_parameter_value',
                        HINT = 'Stream columns may be smallint, integer, bigint, double precision, boolean, text, varchar, timestamptz or jsonb.';
        END IF;
        IF src = 'partition' AND typ NOT IN ('integer', 'bigint') OR src = 'offset' AND typ <> 'bigint'
           OR src IN ('timestamp', 'ingest_time') AND typ <> 'timestamp with time zone'
           OR src = 'key' AND typ <> 'text' THEN
            RAISE EXCEPTION 'mapping of column "%": source % cannot fill a column of type %', col, src, typ
                  USING ERRCODE = 'datatype_mismatch';
        END IF;
        cols := cols || format('%I %s%s', col, typ,
                  CASE WHEN src IN ('partition', 'offset') OR src = 'json' AND coalesce((m->>'required')::boolean, true)
                       THEN ' NOT NULL' WHEN src = 'ingest_time' THEN ' NOT NULL DEFAULT now()' ELSE '' END);
        IF src = 'partition' THEN part_col := col; END IF;
        IF src = 'offset' THEN off_col := col; END IF;
        IF src = 'json' AND typ = 'timestamp with time zone' THEN ts_cols := ts_cols || col; END IF;
    END LOOP;

    IF target IS NULL THEN
        -- created as the caller, with the caller's rights (a refused
        -- registration below rolls it back)
        -- (partition, offset) as the key makes a duplicate impossible, not just unlikely
        EXECUTE format('CREATE TABLE %s (%s%s)', qualified, array_to_string(cols, ', '),
                       CASE WHEN part_col IS NOT NULL AND off_col IS NOT NULL
                            THEN format(', PRIMARY KEY (%I, %I)', part_col, off_col) ELSE '' END);
        FOREACH col IN ARRAY ts_cols LOOP
            EXECUTE format('CREATE INDEX ON %s (%I)', qualified, col);
        END LOOP;
        IF mapping = @extschema@.ecsync_page_view_mapping() THEN
            -- the per-minute, per-page rollup Metabase charts (see docs/streams.md: a view, and why)
            EXECUTE format('CREATE VIEW %I.%I AS
                SELECT date_trunc(''minute'', viewed_at) AS minute, page,
                       count(*) AS views, count(DISTINCT user_id) AS users
                  FROM %s GROUP BY 1, 2', target_schema, target_table || '_per_minute', qualified);
        END IF;
    END IF;

    RETURN (@extschema@.ecsync_catalog_call('register_stream', jsonb_build_object(
        'name', name, 'server', server, 'topic', topic, 'target_table', target_table,
        'target_schema', target_schema, 'consumer_group', consumer_group, 'mapping', mapping,
        'batch_size', batch_size, 'max_latency', max_latency, 'workers', workers,
        'start_from', start_from, 'max_message_bytes', max_message_bytes,
        'decode_threads', decode_threads)) #>> '{}')::integer;
END
$$;

CREATE OR REPLACE FUNCTION ecsync_change_stream(name text, new_state text, restart boolean)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.ecsync_catalog_call('change_stream', jsonb_build_object(
        'name', name, 'state', new_state, 'restart', restart)) #>> '{}')::boolean
$$;

CREATE OR REPLACE FUNCTION ecsync_unregister_stream(name text)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (@extschema@.ecsync_catalog_call('unregister_stream', jsonb_build_object('name', name)) #>> '{}')::boolean
$$;

---------------------------------------------------------------- views

-- security_invoker: a view shows what its reader's row-level security allows
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
        SELECT r.finished_at, rt.rows_read, rt.rows_written, rt.seconds
          FROM ecsync.run_tables rt JOIN ecsync.runs r USING (run_id)
         WHERE rt.sync_table_id = t.id ORDER BY r.run_id DESC LIMIT 1) last_ok ON true
  LEFT JOIN LATERAL (
        SELECT r.finished_at, r.error FROM ecsync.runs r
         WHERE r.status = 'failed' AND r.owner = t.owner AND (r.only_table IS NULL OR r.only_table = t.id)
           AND r.run_id > coalesce((SELECT max(rt.run_id) FROM ecsync.run_tables rt
                                     WHERE rt.sync_table_id = t.id), 0)
         ORDER BY r.run_id DESC LIMIT 1) last_fail ON true;
ALTER VIEW ecsync.status SET (security_invoker = true);

ALTER VIEW ecsync.progress SET (security_invoker = true);

CREATE OR REPLACE VIEW ecsync.stream_partitions AS
SELECT s.name AS stream, s.topic, o.kafka_partition,
       o.next_offset AS stored_offset, o.high_watermark,
       greatest(o.high_watermark - coalesce(o.next_offset, o.low_watermark, 0), 0) AS lag,
       o.rate_eps, o.rows_total, o.dead_total, o.worker_pid,
       o.last_error, o.last_error_at, o.updated_at
  FROM ecsync.streams s JOIN ecsync.stream_offsets o ON o.stream_id = s.id;
ALTER VIEW ecsync.stream_partitions SET (security_invoker = true);

CREATE OR REPLACE VIEW ecsync.stream_status AS
SELECT s.name AS stream, s.topic, s.target_schema || '.' || s.target_table AS target,
       s.state, s.workers AS workers_wanted,
       @extschema@.ecsync_stream_workers(s.name) AS workers_running,
       (SELECT sum(o.rows_total) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS rows_total,
       (SELECT sum(o.dead_total) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS dead_total,
       (SELECT sum(greatest(o.high_watermark - coalesce(o.next_offset, o.low_watermark, 0), 0))
          FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS lag,
       (SELECT sum(o.rate_eps) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id) AS rate_eps,
       s.last_error, s.last_error_at, s.owner::regrole AS owner
  FROM ecsync.streams s;
ALTER VIEW ecsync.stream_status SET (security_invoker = true);

---------------------------------------------------------------- row-level security

ALTER TABLE ecsync.sync_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY sync_tables_of_owner ON ecsync.sync_tables FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));

ALTER TABLE ecsync.runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY runs_of_owner ON ecsync.runs FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'USAGE') OR requested_by OPERATOR(pg_catalog.=) current_user);

ALTER TABLE ecsync.run_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY run_tables_of_run ON ecsync.run_tables FOR SELECT
    USING (EXISTS (SELECT 1 FROM ecsync.runs r WHERE r.run_id OPERATOR(pg_catalog.=) run_tables.run_id));

ALTER TABLE ecsync.streams ENABLE ROW LEVEL SECURITY;
CREATE POLICY streams_of_owner ON ecsync.streams FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));

ALTER TABLE ecsync.stream_offsets ENABLE ROW LEVEL SECURITY;
CREATE POLICY stream_offsets_of_stream ON ecsync.stream_offsets FOR SELECT
    USING (EXISTS (SELECT 1 FROM ecsync.streams s WHERE s.id OPERATOR(pg_catalog.=) stream_offsets.stream_id));

ALTER TABLE ecsync.dead_letters ENABLE ROW LEVEL SECURITY;
CREATE POLICY dead_letters_of_owner ON ecsync.dead_letters FOR SELECT
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));

---------------------------------------------------------------- privileges

-- Reading is open (row-level security decides what each role sees);
-- writing is the functions' alone.  Using a server still needs USAGE on it.
GRANT USAGE ON SCHEMA ecsync TO PUBLIC;
GRANT SELECT ON ecsync.sync_tables, ecsync.runs, ecsync.run_tables, ecsync.status, ecsync.progress,
                ecsync.streams, ecsync.stream_offsets, ecsync.dead_letters,
                ecsync.stream_partitions, ecsync.stream_status
   TO PUBLIC;

REVOKE ALL ON FUNCTION ecsync.check_login(oid),
                       ecsync.check_owner(oid, oid, text),
                       ecsync.check_target(regclass, oid, text),
                       ecsync.catalog_register_table(oid, jsonb),
                       ecsync.catalog_unregister_table(oid, jsonb),
                       ecsync.catalog_register_stream(oid, jsonb),
                       ecsync.catalog_change_stream(oid, jsonb),
                       ecsync.catalog_unregister_stream(oid, jsonb),
                       ecsync.rls_applies(oid, oid),
                       ecsync.batch_worker_alive(integer)
  FROM PUBLIC;
-- (ecsync_wake_launcher and ecsync_check_stream_database stay revoked:
--  only the catalog functions call them, as the catalog's owner)

GRANT EXECUTE ON FUNCTION
    ecsync.check_server(name, name, oid),   -- says no more than has_server_privilege
    ecsync_catalog_call(text, jsonb),
    ecsync_stream_workers(text),
    ecsync_register_table(name, text, name, text, text[], text, name, text, interval),
    ecsync_unregister_table(name, name),
    ecsync_register_shop(name, name, text, text),
    ecsync_run_batch(text),
    ecsync_reconcile_deletes(text),
    ecsync_register_stream(text, name, text, name, name, text, jsonb, integer, interval, integer, text, integer, integer),
    ecsync_change_stream(text, text, boolean),
    ecsync_start_stream(text),
    ecsync_stop_stream(text),
    ecsync_restart_stream(text),
    ecsync_unregister_stream(text)
  TO PUBLIC;
