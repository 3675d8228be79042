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

---------------------------------------------------------------- streams

-- the topic is part of an event's identity: targets and dead letters are
-- keyed by (topic, partition, offset)
ALTER TABLE ecsync.dead_letters DROP CONSTRAINT dead_letters_stream_id_kafka_partition_kafka_offset_key;
ALTER TABLE ecsync.dead_letters ADD CONSTRAINT dead_letters_stream_id_topic_kafka_partition_kafka_offset_key
    UNIQUE (stream_id, topic, kafka_partition, kafka_offset);

ALTER TABLE ecsync.stream_offsets ADD COLUMN last_batch_at timestamptz;
COMMENT ON COLUMN ecsync.stream_offsets.last_batch_at IS 'when a batch of the partition last committed';
ALTER TABLE ecsync.stream_offsets ADD COLUMN beyond_end boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN ecsync.stream_offsets.beyond_end IS
  'the stored offset is beyond the end of the topic (deleted and created again?): the partition is paused';

CREATE OR REPLACE FUNCTION ecsync_page_view_mapping()
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$ SELECT '[
  {"column": "kafka_topic",     "source": "topic",       "type": "text"},
  {"column": "kafka_partition", "source": "partition",   "type": "integer"},
  {"column": "kafka_offset",    "source": "offset",      "type": "bigint"},
  {"column": "user_id",    "key": "user_id",    "type": "bigint",      "required": true},
  {"column": "age",        "key": "age",        "type": "smallint",    "required": false},
  {"column": "gender",     "key": "gender",     "type": "text",        "required": false},
  {"column": "occupation", "key": "occupation", "type": "text",        "required": false},
  {"column": "page",       "key": "page",       "type": "text",        "required": true},
  {"column": "viewed_at",  "key": "viewed_at",  "type": "timestamptz", "required": true},
  {"column": "ingested_at", "source": "ingest_time", "type": "timestamptz"}
]'::jsonb $$;

CREATE OR REPLACE FUNCTION ecsync.catalog_register_stream(caller oid, a jsonb)
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
    -- a new topic or group starts from its own offsets, or from those the
    -- caller found in the target (existing_rows 'keep'); 'truncate' starts
    -- afresh, dead letters of the topic included
    IF prev.id IS NULL OR (prev.topic, prev.consumer_group) IS DISTINCT FROM (a->>'topic', v_group)
       OR (a->>'existing_rows') = 'truncate' THEN
        DELETE FROM ecsync.stream_offsets o WHERE o.stream_id = new_id;
        IF (a->>'existing_rows') = 'truncate' THEN
            DELETE FROM ecsync.dead_letters d WHERE d.stream_id = new_id AND d.topic = a->>'topic';
        END IF;
        INSERT INTO ecsync.stream_offsets (stream_id, kafka_partition, next_offset, updated_at)
        SELECT new_id, (e.key)::integer, (e.value #>> '{}')::bigint, now()
          FROM jsonb_each(coalesce(a->'start_offsets', '{}')) e;
    END IF;
    PERFORM @extschema@.ecsync_check_stream_database();
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN to_jsonb(new_id);
END
$$;


DROP FUNCTION ecsync_register_stream(text, name, text, name, name, text, jsonb, integer, interval, integer, text, integer, integer);
CREATE FUNCTION ecsync_register_stream(
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
    decode_threads    integer DEFAULT 1,
    existing_rows     text DEFAULT 'refuse')
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
    topic_col text;
    qualified text := format('%I.%I', target_schema, target_table);
    prev ecsync.streams;
    repoint boolean;
    start_offsets jsonb := '{}';
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
    IF existing_rows IS NULL OR existing_rows NOT IN ('refuse', 'keep', 'truncate') THEN
        RAISE EXCEPTION 'existing_rows must be ''refuse'', ''keep'' or ''truncate'', not %', existing_rows
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
        IF src NOT IN ('json', 'partition', 'offset', 'topic', 'timestamp', 'key', 'ingest_time') THEN
            RAISE EXCEPTION 'mapping of column "%": unknown source "%"', col, src
                  USING ERRCODE = 'invalid_parameter_value',
                        HINT = 'Sources are json (the default: the event''s "key"), partition, offset, topic, timestamp, key and ingest_time.';
        END IF;
        IF m ? 'required' AND jsonb_typeof(m->'required') <> 'boolean' THEN
            RAISE EXCEPTION 'mapping of column "%": "required" must be true or false', col
                  USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF target IS NULL THEN
            typ := @extschema@.ecsync_stream_type(coalesce(m->>'type',
                     CASE src WHEN 'partition' THEN 'integer' WHEN 'offset' THEN 'bigint'
                              WHEN 'timestamp' THEN 'timestamptz' WHEN 'ingest_time' THEN 'timestamptz'
                              WHEN 'key' THEN 'text' WHEN 'topic' THEN 'text' END));
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
           OR src IN ('key', 'topic') AND typ <> 'text' THEN
            RAISE EXCEPTION 'mapping of column "%": source % cannot fill a column of type %', col, src, typ
                  USING ERRCODE = 'datatype_mismatch';
        END IF;
        cols := cols || format('%I %s%s', col, typ,
                  CASE WHEN src IN ('partition', 'offset', 'topic') OR src = 'json' AND coalesce((m->>'required')::boolean, true)
                       THEN ' NOT NULL' WHEN src = 'ingest_time' THEN ' NOT NULL DEFAULT now()' ELSE '' END);
        IF src = 'partition' THEN part_col := col; END IF;
        IF src = 'offset' THEN off_col := col; END IF;
        IF src = 'topic' THEN topic_col := col; END IF;
        IF src = 'json' AND typ = 'timestamp with time zone' THEN ts_cols := ts_cols || col; END IF;
    END LOOP;

    IF target IS NULL THEN
        -- created as the caller, with the caller's rights (a refused
        -- registration below rolls it back)
        -- (topic, partition, offset) as the key makes a duplicate impossible, not just unlikely
        EXECUTE format('CREATE TABLE %s (%s%s)', qualified, array_to_string(cols, ', '),
                       CASE WHEN part_col IS NOT NULL AND off_col IS NOT NULL AND topic_col IS NOT NULL
                            THEN format(', PRIMARY KEY (%I, %I, %I)', topic_col, part_col, off_col)
                            WHEN part_col IS NOT NULL AND off_col IS NOT NULL
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

    -- A stream that is new, or reads a new topic or group, into a table
    -- that holds rows: its events could be the rows' events again.  The
    -- caller says what to do.
    SELECT * INTO prev FROM ecsync.streams s WHERE s.name = ecsync_register_stream.name;
    repoint := prev.id IS NULL
        OR (prev.topic, prev.consumer_group) IS DISTINCT FROM
           (topic, coalesce(consumer_group, 'ecsync_' || ecsync_register_stream.name))
        OR (prev.target_schema, prev.target_table) IS DISTINCT FROM (target_schema, target_table);
    IF target IS NOT NULL AND existing_rows = 'truncate' THEN
        EXECUTE format('TRUNCATE %s', qualified);
    ELSIF target IS NOT NULL AND repoint THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', qualified) INTO STRICT repoint;
        IF repoint AND existing_rows = 'refuse' THEN
            RAISE EXCEPTION 'table % already holds rows, and stream "%" would read topic "%" into it from its %',
                  qualified, ecsync_register_stream.name, topic,
                  CASE WHEN prev.id IS NULL THEN 'start' ELSE 'start, as a new topic, group or table' END
                  USING ERRCODE = 'object_not_in_prerequisite_state',
                        DETAIL = 'Its events could be the events of those rows again, and collide with them.',
                        HINT = 'Register it with existing_rows => ''keep'' to keep the rows (the stream then starts after the '
                               'highest offset of each partition already in the table), or ''truncate'' to empty the table first.';
        END IF;
        IF repoint AND existing_rows = 'keep' THEN
            IF part_col IS NULL OR off_col IS NULL THEN
                RAISE EXCEPTION 'existing_rows => ''keep'' needs columns mapped from the partition and the offset'
                      USING ERRCODE = 'invalid_parameter_value';
            END IF;
            EXECUTE format('SELECT coalesce(jsonb_object_agg(p, n), ''{}'') FROM
                              (SELECT %I AS p, max(%I) + 1 AS n FROM %s %s GROUP BY 1) m',
                           part_col, off_col, qualified,
                           CASE WHEN topic_col IS NOT NULL THEN format('WHERE %I = %L', topic_col, topic) ELSE '' END)
              INTO start_offsets;
        END IF;
    END IF;

    RETURN (@extschema@.ecsync_catalog_call('register_stream', jsonb_build_object(
        'name', name, 'server', server, 'topic', topic, 'target_table', target_table,
        'target_schema', target_schema, 'consumer_group', consumer_group, 'mapping', mapping,
        'batch_size', batch_size, 'max_latency', max_latency, 'workers', workers,
        'start_from', start_from, 'max_message_bytes', max_message_bytes,
        'decode_threads', decode_threads, 'existing_rows', existing_rows,
        'start_offsets', start_offsets)) #>> '{}')::integer;
END
$$;

COMMENT ON FUNCTION ecsync_register_stream(text, name, text, name, name, text, jsonb, integer, interval, integer, text, integer, integer, text) IS
  'register (or change) a Kafka stream; creates the target table if missing; existing_rows says what to do with '
  'the rows of a table the stream is new to: refuse (the default), keep, or truncate; returns its id';
GRANT EXECUTE ON FUNCTION
    ecsync_register_stream(text, name, text, name, name, text, jsonb, integer, interval, integer, text, integer, integer, text)
  TO PUBLIC;

-- lag: when the stored offset is beyond the end, every message of the
-- partition is still to be read
CREATE OR REPLACE VIEW ecsync.stream_partitions AS
SELECT s.name AS stream, s.topic, o.kafka_partition,
       o.next_offset AS stored_offset, o.high_watermark,
       CASE WHEN o.beyond_end THEN greatest(o.high_watermark - coalesce(o.low_watermark, 0), 0)
            ELSE greatest(o.high_watermark - coalesce(o.next_offset, o.low_watermark, 0), 0) END AS lag,
       o.rate_eps, o.rows_total, o.dead_total, o.worker_pid,
       o.last_error, o.last_error_at, o.updated_at, o.last_batch_at, o.beyond_end
  FROM ecsync.streams s JOIN ecsync.stream_offsets o ON o.stream_id = s.id;
ALTER VIEW ecsync.stream_partitions SET (security_invoker = true);

CREATE OR REPLACE VIEW ecsync.stream_status AS
SELECT s.name AS stream, s.topic, s.target_schema || '.' || s.target_table AS target,
       s.state, s.workers AS workers_wanted,
       @extschema@.ecsync_stream_workers(s.name) AS workers_running,
       (SELECT sum(o.rows_total) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS rows_total,
       (SELECT sum(o.dead_total) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS dead_total,
       (SELECT sum(p.lag) FROM ecsync.stream_partitions p WHERE p.stream = s.name)::bigint AS lag,
       (SELECT sum(o.rate_eps) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id) AS rate_eps,
       s.last_error, s.last_error_at, s.owner::regrole AS owner,
       b.last_batch_at,
       -- an error is current until a batch commits after it
       CASE WHEN s.last_error IS NULL THEN NULL
            WHEN b.last_batch_at > s.last_error_at THEN 'recovered'
            ELSE 'current' END AS error_state
  FROM ecsync.streams s
  LEFT JOIN LATERAL (SELECT max(o.last_batch_at) AS last_batch_at
                       FROM ecsync.stream_offsets o WHERE o.stream_id = s.id) b ON true;
ALTER VIEW ecsync.stream_status SET (security_invoker = true);
