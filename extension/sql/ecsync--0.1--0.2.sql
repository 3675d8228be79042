/* ecsync--0.1--0.2.sql: Kafka streams into PostgreSQL */

\echo Use "ALTER EXTENSION ecsync UPDATE TO '0.2'" to load this file. \quit

---------------------------------------------------------------- Kafka sources

-- A Kafka source is a foreign server of this wrapper: librdkafka properties
-- (bootstrap_servers, security.protocol, ...) as server options,
-- credentials (sasl.password, ssl.key.password, ...) only in user mappings.
CREATE FUNCTION ecsync_kafka_validator(text[], oid)
RETURNS void
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'ecsync_kafka_validator';

CREATE FOREIGN DATA WRAPPER ecsync_kafka VALIDATOR ecsync_kafka_validator;
COMMENT ON FOREIGN DATA WRAPPER ecsync_kafka IS 'Kafka sources of ecsync streams';

------------------------------------------------------------------ streams

CREATE TABLE ecsync.streams (
    id                serial PRIMARY KEY,
    name              text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,40}$'),
    server_name       name NOT NULL,
    topic             text NOT NULL,
    target_schema     name NOT NULL,
    target_table      name NOT NULL,
    consumer_group    text NOT NULL,
    mapping           jsonb NOT NULL,
    batch_size        integer NOT NULL CHECK (batch_size BETWEEN 1 AND 1000000),
    max_latency       interval NOT NULL CHECK (max_latency BETWEEN '1 ms' AND '1 hour'),
    workers           integer NOT NULL CHECK (workers BETWEEN 1 AND 16),
    decode_threads    integer NOT NULL CHECK (decode_threads BETWEEN 1 AND 8),
    start_from        text NOT NULL CHECK (start_from IN ('earliest', 'latest')),
    max_message_bytes integer NOT NULL CHECK (max_message_bytes > 0),
    owner             oid NOT NULL,     -- the role the workers run as
    state             text NOT NULL DEFAULT 'stopped' CHECK (state IN ('started', 'stopped')),
    config_version    integer NOT NULL DEFAULT 1,
    last_error        text,
    last_error_at     timestamptz,
    registered_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ecsync.streams IS 'Kafka topics that ecsync''s stream workers ingest';

-- The stream's position per partition: written in the transaction of the
-- rows, so what is in the target and where the stream resumes agree.
CREATE TABLE ecsync.stream_offsets (
    stream_id       integer NOT NULL REFERENCES ecsync.streams ON DELETE CASCADE,
    kafka_partition integer NOT NULL,
    next_offset     bigint,             -- next offset to ingest; NULL: none yet
    low_watermark   bigint,
    high_watermark  bigint,             -- as last seen by the worker
    rows_total      bigint NOT NULL DEFAULT 0,
    dead_total      bigint NOT NULL DEFAULT 0,
    rate_eps        double precision,   -- events per second, recently
    worker_pid      integer,
    last_error      text,
    last_error_at   timestamptz,
    updated_at      timestamptz,
    PRIMARY KEY (stream_id, kafka_partition)
);
COMMENT ON TABLE ecsync.stream_offsets IS 'per stream and partition: the next offset to ingest and counters';

CREATE TABLE ecsync.dead_letters (
    id              bigserial PRIMARY KEY,
    stream_id       integer NOT NULL,
    stream          text NOT NULL,
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    kafka_timestamp timestamptz,
    message_key     bytea,
    payload         bytea,              -- the message as received, byte for byte
    kind            text NOT NULL,      -- empty, too_large, invalid_utf8, not_json, ...
    reason          text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, kafka_partition, kafka_offset)
);
CREATE INDEX ON ecsync.dead_letters (received_at);
COMMENT ON TABLE ecsync.dead_letters IS 'messages a stream could not ingest, with the reason';

-- the mapping of the page-view event (docs/design.md, "The data")
CREATE FUNCTION ecsync_page_view_mapping()
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$ SELECT '[
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
COMMENT ON FUNCTION ecsync_page_view_mapping() IS
  'the default stream mapping: the page-view event''s keys, Kafka partition and offset, ingest time';

-- ecsync_stream_type: the decoder's name for a column type, NULL if unsupported
CREATE FUNCTION ecsync_stream_type(sqltype text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE format_type(to_regtype(sqltype), NULL)
        WHEN 'smallint' THEN 'smallint' WHEN 'integer' THEN 'integer'
        WHEN 'bigint' THEN 'bigint' WHEN 'double precision' THEN 'double precision'
        WHEN 'boolean' THEN 'boolean' WHEN 'text' THEN 'text'
        WHEN 'character varying' THEN 'text'
        WHEN 'timestamp with time zone' THEN 'timestamp with time zone'
        WHEN 'jsonb' THEN 'jsonb' END
$$;

-- stream workers run only in ecsync.database: say so where it matters
CREATE FUNCTION ecsync_check_stream_database()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    workers_db text;
BEGIN
    BEGIN
        workers_db := current_setting('ecsync.database');
    EXCEPTION WHEN insufficient_privilege THEN
        RETURN;
    END;
    IF workers_db IS DISTINCT FROM current_database() THEN
        RAISE WARNING 'stream workers run in database "%", not "%": streams registered here do not run', workers_db, current_database()
              USING HINT = 'Register streams in the database named by ecsync.database, or set it to this one and restart PostgreSQL.';
    END IF;
END
$$;

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
    decode_threads    integer DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    wrapper name;
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
    new_id integer;
    old_source text[];
    qualified text := format('%I.%I', target_schema, target_table);
BEGIN
    SELECT w.fdwname INTO wrapper
      FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
     WHERE s.srvname = server;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'server "%" does not exist', server
              USING ERRCODE = 'undefined_object',
                    HINT = 'Create it with CREATE SERVER ... FOREIGN DATA WRAPPER ecsync_kafka OPTIONS (bootstrap_servers ''host:9092'').';
    ELSIF wrapper <> 'ecsync_kafka' THEN
        RAISE EXCEPTION 'server "%" uses foreign-data wrapper "%", not ecsync_kafka', server, wrapper
              USING ERRCODE = 'wrong_object_type';
    END IF;
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
        target := qualified::regclass;
    END IF;

    SELECT ARRAY[s.topic, s.consumer_group] INTO old_source FROM ecsync.streams s WHERE s.name = name;
    INSERT INTO ecsync.streams AS s (name, server_name, topic, target_schema, target_table,
           consumer_group, mapping, batch_size, max_latency, workers, start_from,
           max_message_bytes, decode_threads, owner)
    VALUES (name, server, topic, target_schema, target_table,
            coalesce(consumer_group, 'ecsync_' || name), mapping, batch_size, max_latency,
            workers, start_from, max_message_bytes, decode_threads,
            (SELECT oid FROM pg_roles WHERE rolname = current_user))
    ON CONFLICT ON CONSTRAINT streams_name_key DO UPDATE
       SET server_name = excluded.server_name, topic = excluded.topic,
           target_schema = excluded.target_schema, target_table = excluded.target_table,
           consumer_group = excluded.consumer_group, mapping = excluded.mapping,
           batch_size = excluded.batch_size, max_latency = excluded.max_latency,
           workers = excluded.workers, start_from = excluded.start_from,
           max_message_bytes = excluded.max_message_bytes,
           decode_threads = excluded.decode_threads, owner = excluded.owner,
           config_version = s.config_version + 1
    RETURNING id INTO new_id;
    -- a new topic or group starts from its own offsets
    IF old_source IS DISTINCT FROM ARRAY[topic, coalesce(consumer_group, 'ecsync_' || name)] THEN
        DELETE FROM ecsync.stream_offsets o WHERE o.stream_id = new_id;
    END IF;
    PERFORM @extschema@.ecsync_check_stream_database();
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION ecsync_register_stream(text, name, text, name, name, text, jsonb, integer, interval, integer, text, integer, integer) IS
  'register (or change) a Kafka stream; creates the target table if missing; returns its id';

-- the launcher starts, stops and reconfigures workers when woken
CREATE FUNCTION ecsync_wake_launcher()
RETURNS boolean
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_wake_launcher';

-- ecsync_change_stream: set a stream's state and/or bump its version, then
-- wake the launcher (the functions below are its faces)
CREATE FUNCTION ecsync_change_stream(name text, new_state text, restart boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    UPDATE ecsync.streams s
       SET state = coalesce(new_state, s.state),
           config_version = s.config_version + CASE WHEN restart THEN 1 ELSE 0 END,
           -- a start is a fresh chance: the last error belongs to the past
           last_error = CASE WHEN new_state = 'started' THEN NULL ELSE s.last_error END,
           last_error_at = CASE WHEN new_state = 'started' THEN NULL ELSE s.last_error_at END
     WHERE s.name = name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stream "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    IF new_state = 'started' THEN
        PERFORM @extschema@.ecsync_check_stream_database();
    END IF;
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN true;
END
$$;

CREATE FUNCTION ecsync_start_stream(name text)
RETURNS boolean
LANGUAGE sql
AS $$ SELECT @extschema@.ecsync_change_stream(name, 'started', false) $$;
COMMENT ON FUNCTION ecsync_start_stream(text) IS 'start a stream''s workers; it stays started across restarts';

CREATE FUNCTION ecsync_stop_stream(name text)
RETURNS boolean
LANGUAGE sql
AS $$ SELECT @extschema@.ecsync_change_stream(name, 'stopped', false) $$;
COMMENT ON FUNCTION ecsync_stop_stream(text) IS 'stop a stream''s workers (each commits its batch first)';

CREATE FUNCTION ecsync_restart_stream(name text)
RETURNS boolean
LANGUAGE sql
AS $$ SELECT @extschema@.ecsync_change_stream(name, NULL, true) $$;
COMMENT ON FUNCTION ecsync_restart_stream(text) IS
  'restart a stream''s workers, e.g. after ALTER SERVER or ALTER USER MAPPING';

CREATE FUNCTION ecsync_unregister_stream(name text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    DELETE FROM ecsync.streams s WHERE s.name = name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM @extschema@.ecsync_wake_launcher();
    RETURN true;
END
$$;
COMMENT ON FUNCTION ecsync_unregister_stream(text) IS
  'forget a stream and its offsets (its target table and dead letters are kept)';

CREATE VIEW ecsync.stream_partitions AS
SELECT s.name AS stream, s.topic, o.kafka_partition,
       o.next_offset AS stored_offset, o.high_watermark,
       greatest(o.high_watermark - coalesce(o.next_offset, o.low_watermark, 0), 0) AS lag,
       o.rate_eps, o.rows_total, o.dead_total, o.worker_pid,
       o.last_error, o.last_error_at, o.updated_at
  FROM ecsync.streams s JOIN ecsync.stream_offsets o ON o.stream_id = s.id;
COMMENT ON VIEW ecsync.stream_partitions IS
  'per stream and partition: stored offset, high watermark, lag, recent rate, last error';

CREATE VIEW ecsync.stream_status AS
SELECT s.name AS stream, s.topic, s.target_schema || '.' || s.target_table AS target,
       s.state, s.workers AS workers_wanted,
       (SELECT count(*) FROM pg_stat_activity a
         WHERE a.backend_type = 'ecsync stream'
           AND a.application_name = 'ecsync stream ' || s.name)::integer AS workers_running,
       (SELECT sum(o.rows_total) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS rows_total,
       (SELECT sum(o.dead_total) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS dead_total,
       (SELECT sum(greatest(o.high_watermark - coalesce(o.next_offset, o.low_watermark, 0), 0))
          FROM ecsync.stream_offsets o WHERE o.stream_id = s.id)::bigint AS lag,
       (SELECT sum(o.rate_eps) FROM ecsync.stream_offsets o WHERE o.stream_id = s.id) AS rate_eps,
       s.last_error, s.last_error_at
  FROM ecsync.streams s;
COMMENT ON VIEW ecsync.stream_status IS 'per stream: state, workers, totals, lag and the last error';

REVOKE ALL ON FUNCTION ecsync_kafka_validator(text[], oid),
                       ecsync_register_stream(text, name, text, name, name, text, jsonb, integer, interval, integer, text, integer, integer),
                       ecsync_wake_launcher(),
                       ecsync_check_stream_database(),
                       ecsync_change_stream(text, text, boolean),
                       ecsync_start_stream(text),
                       ecsync_stop_stream(text),
                       ecsync_restart_stream(text),
                       ecsync_unregister_stream(text)
  FROM PUBLIC;
