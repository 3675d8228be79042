package ecsync.bench;

import java.io.ObjectOutputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;

import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.debezium.embedded.Connect;

/**
 * The cdc benchmark's Debezium anchor (tests/bench/cdc.sh).
 *
 * Debezium's embedded engine (DebeziumEngine, one task) with the MySQL
 * connector reads the bench's MariaDB binary log from a given file:position,
 * without a data snapshot: the position is written, before the engine starts,
 * as the connector's own offset ({"file": ..., "pos": ...} under the
 * partition {"server": topic.prefix}) into the engine's file offset store, and
 * snapshot.mode=recovery only rebuilds the (in-memory) schema history from the
 * tables' current definitions, then streams from that offset.
 *
 * The PostgreSQL side is what Debezium's JDBC sink (not served by Maven
 * Central here) does with insert.mode=upsert, delete.enabled=true,
 * primary.key.mode=record_key and use.reduction.buffer=true: each engine batch
 * is reduced to the last change of every key, then applied per table as one
 * JDBC batch of INSERT ... ON CONFLICT (key) DO UPDATE and one of DELETE ...
 * WHERE key = ?, in one transaction committed before the engine is told the
 * batch is processed.  The target tables exist (the bench copies them).
 *
 * Done when the change of bench_marker (id 1) to a count of at least
 * "changes" is committed.  Prints one line:
 *   DEBEZIUM status=done|timeout|failed events=N elapsed_s=S startup_s=S marker=M batches=B sink_s=S [reason=...]
 * elapsed_s runs from the first change event handed to the sink to the commit
 * of the last; startup_s from the program's start to the first change event;
 * batches: the engine batches that held changes; sink_s: the time spent in
 * the sink (conversion, SQL, commit).
 *
 * Arguments are key=value (see usage()).
 */
public final class DebeziumApply {

    private static final String ENGINE = "ecsync-bench";
    private static final String PREFIX = "dbz";

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (String s : argv) {
            int i = s.indexOf('=');
            if (i <= 0) {
                usage();
            }
            a.put(s.substring(0, i), s.substring(i + 1));
        }
        for (String k : List.of("mysql.port", "mysql.database", "mysql.user", "mysql.password.file", "pg.url", "pg.user",
                "pg.schema", "binlog.file", "binlog.pos", "changes", "work.dir")) {
            if (!a.containsKey(k)) {
                System.err.println("debezium-apply: missing " + k);
                usage();
            }
        }
        new DebeziumApply(a).run();
    }

    private static void usage() {
        System.err.println("usage: DebeziumApply mysql.host=H mysql.port=P mysql.database=DB mysql.user=U mysql.password.file=F\n"
                + "    pg.url=jdbc:postgresql://... pg.user=U [pg.password=PW, default $PGPASSWORD] pg.schema=S binlog.file=F binlog.pos=N\n"
                + "    changes=N work.dir=D [batch=10000] [queue=40000] [poll.ms=50] [timeout.s=600] [server.id=5401]");
        System.exit(2);
    }

    private final Map<String, String> a;
    private final long t0 = System.nanoTime();
    private final long changes;
    private final long deadline;
    private final String schema;
    private Connection pg;
    private final Map<String, Table> tables = new HashMap<>();
    private volatile long firstNs = 0, lastNs = 0, events = 0, marker = 0, batches = 0, sinkNs = 0;
    private volatile boolean done = false;
    private volatile Throwable failure = null;
    private final CountDownLatch finished = new CountDownLatch(1);

    private DebeziumApply(Map<String, String> a) {
        this.a = a;
        this.changes = Long.parseLong(a.get("changes"));
        this.deadline = t0 + TimeUnit.SECONDS.toNanos(Long.parseLong(a.getOrDefault("timeout.s", "600")));
        this.schema = a.get("pg.schema");
    }

    private void run() throws Exception {
        Path work = Path.of(a.get("work.dir"));
        Files.createDirectories(work);
        Path offsets = work.resolve("offsets.dat");
        seedOffset(offsets, a.get("binlog.file"), Long.parseLong(a.get("binlog.pos")));

        Properties pgp = new Properties();
        pgp.setProperty("user", a.get("pg.user"));
        // the password from the environment, not the command line
        String pw = a.containsKey("pg.password") ? a.get("pg.password") : System.getenv("PGPASSWORD");
        if (pw != null) {
            pgp.setProperty("password", pw);
        }
        // pgJDBC sends a batch of INSERTs as multi-row INSERTs
        pgp.setProperty("reWriteBatchedInserts", "true");
        pg = DriverManager.getConnection(a.get("pg.url"), pgp);
        pg.setAutoCommit(false);

        String batch = a.getOrDefault("batch", "10000");
        Properties p = new Properties();
        p.setProperty("name", ENGINE);
        p.setProperty("connector.class", "io.debezium.connector.mysql.MySqlConnector");
        p.setProperty("tasks.max", "1");
        p.setProperty("topic.prefix", PREFIX);
        p.setProperty("database.hostname", a.getOrDefault("mysql.host", "127.0.0.1"));
        p.setProperty("database.port", a.get("mysql.port"));
        p.setProperty("database.user", a.get("mysql.user"));
        p.setProperty("database.password", Files.readString(Path.of(a.get("mysql.password.file"))).trim());
        p.setProperty("database.server.id", a.getOrDefault("server.id", "5401"));
        p.setProperty("database.include.list", a.get("mysql.database"));
        p.setProperty("database.jdbc.driver", MariaDbShimDriver.class.getName());
        p.setProperty("database.ssl.mode", "disabled");
        // no data snapshot: the schema from the tables, the changes from the seeded offset
        p.setProperty("snapshot.mode", "recovery");
        p.setProperty("snapshot.locking.mode", "none");
        p.setProperty("schema.history.internal", "io.debezium.relational.history.MemorySchemaHistory");
        p.setProperty("schema.history.internal.store.only.captured.tables.ddl", "true");
        p.setProperty("include.schema.changes", "false");
        p.setProperty("offset.storage", "org.apache.kafka.connect.storage.FileOffsetBackingStore");
        p.setProperty("offset.storage.file.filename", offsets.toString());
        p.setProperty("offset.flush.interval.ms", "10000");
        // batches of the engine = batches of the sink
        p.setProperty("max.batch.size", batch);
        p.setProperty("max.queue.size", a.getOrDefault("queue", String.valueOf(4 * Integer.parseInt(batch))));
        p.setProperty("poll.interval.ms", a.getOrDefault("poll.ms", "50"));
        p.setProperty("record.processing.order", "ORDERED");
        p.setProperty("errors.max.retries", "0");

        DebeziumEngine<RecordChangeEvent<SourceRecord>> engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                .using(p)
                .notifying(this::handleBatch)
                .using((success, message, error) -> {
                    if (!success && failure == null && !done) {
                        failure = error != null ? error : new RuntimeException(message);
                    }
                    finished.countDown();
                })
                .build();
        ExecutorService ex = Executors.newSingleThreadExecutor();
        ex.execute(engine);

        String status;
        while (true) {
            if (done) {
                status = "done";
                break;
            }
            if (failure != null) {
                status = "failed";
                break;
            }
            if (finished.getCount() == 0) {
                status = "failed";
                if (failure == null) {
                    failure = new RuntimeException("the engine stopped");
                }
                break;
            }
            if (System.nanoTime() > deadline) {
                status = "timeout";
                break;
            }
            Thread.sleep(20);
        }
        long end = lastNs != 0 ? lastNs : System.nanoTime();
        double elapsed = firstNs == 0 ? 0 : (end - firstNs) / 1e9;
        double startup = ((firstNs != 0 ? firstNs : System.nanoTime()) - t0) / 1e9;
        StringBuilder out = new StringBuilder(String.format(
                "DEBEZIUM status=%s events=%d elapsed_s=%.2f startup_s=%.2f marker=%d batches=%d sink_s=%.2f",
                status, events, elapsed, startup, marker, batches, sinkNs / 1e9));
        if (failure != null) {
            String r = String.valueOf(failure.getMessage());
            for (Throwable c = failure.getCause(); c != null; c = c.getCause()) {
                r = r + ": " + c.getMessage();
            }
            out.append(" reason=").append(r.replaceAll("\\s+", "_"));
            failure.printStackTrace();
        }
        System.out.println(out);
        System.out.flush();
        try {
            engine.close();
        }
        catch (Exception e) {
            // closing after a failure may fail too
        }
        ex.shutdown();
        ex.awaitTermination(30, TimeUnit.SECONDS);
        System.exit(status.equals("failed") ? 1 : 0);
    }

    /**
     * The connector's offset at file:pos, in the format of Kafka Connect's
     * FileOffsetBackingStore (a serialised Map of byte[] key to byte[] value),
     * key and value converted as the engine converts them (JSON, no schemas).
     */
    private static void seedOffset(Path file, String binlogFile, long pos) throws Exception {
        JsonConverter keys = new JsonConverter();
        keys.configure(Map.of("schemas.enable", "false"), true);
        JsonConverter values = new JsonConverter();
        values.configure(Map.of("schemas.enable", "false"), false);
        byte[] k = keys.fromConnectData(ENGINE, null, Arrays.asList(ENGINE, Map.of("server", PREFIX)));
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("file", binlogFile);
        v.put("pos", pos);
        byte[] val = values.fromConnectData(ENGINE, null, v);
        HashMap<byte[], byte[]> raw = new HashMap<>();
        raw.put(k, val);
        try (ObjectOutputStream os = new ObjectOutputStream(Files.newOutputStream(file))) {
            os.writeObject(raw);
        }
        System.err.println("debezium-apply: offset " + new String(k, StandardCharsets.UTF_8) + " = " + new String(val, StandardCharsets.UTF_8));
    }

    // ---- the sink ----

    /** the last change of one key in a batch: the row to upsert, or null to delete */
    private record Change(Table t, Object[] key, Object[] row) {
    }

    private final class Table {
        final String name;
        final List<String> keyCols;
        final List<String> cols;
        final List<Schema> colSchemas;
        final List<Schema> keySchemas;
        final String upsert, delete;
        final int markerCol;

        Table(String name, Schema keySchema, Schema valueSchema) {
            this.name = name;
            keyCols = keySchema.fields().stream().map(Field::name).collect(Collectors.toList());
            keySchemas = keySchema.fields().stream().map(Field::schema).collect(Collectors.toList());
            cols = valueSchema.fields().stream().map(Field::name).collect(Collectors.toList());
            colSchemas = valueSchema.fields().stream().map(Field::schema).collect(Collectors.toList());
            String qt = q(schema) + "." + q(name);
            String nonKey = cols.stream().filter(c -> !keyCols.contains(c)).map(c -> q(c) + " = EXCLUDED." + q(c))
                    .collect(Collectors.joining(", "));
            upsert = "INSERT INTO " + qt + " (" + cols.stream().map(DebeziumApply::q).collect(Collectors.joining(", ")) + ") VALUES ("
                    + cols.stream().map(c -> "?").collect(Collectors.joining(", ")) + ") ON CONFLICT ("
                    + keyCols.stream().map(DebeziumApply::q).collect(Collectors.joining(", ")) + ") DO "
                    + (nonKey.isEmpty() ? "NOTHING" : "UPDATE SET " + nonKey);
            delete = "DELETE FROM " + qt + " WHERE "
                    + keyCols.stream().map(c -> q(c) + " = ?").collect(Collectors.joining(" AND "));
            markerCol = name.equals("bench_marker") ? cols.indexOf("changes") : -1;
        }
    }

    private static String q(String ident) {
        return "\"" + ident.replace("\"", "\"\"") + "\"";
    }

    private void handleBatch(List<RecordChangeEvent<SourceRecord>> records,
                             DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
            throws InterruptedException {
        if (done) {
            return;
        }
        long b0 = System.nanoTime();
        try {
            // the reduction buffer: per table and key, the last change
            Map<Table, LinkedHashMap<List<Object>, Change>> reduced = new LinkedHashMap<>();
            long n = 0, m = marker;
            for (RecordChangeEvent<SourceRecord> rce : records) {
                SourceRecord r = rce.record();
                if (r.value() == null || !(r.value() instanceof Struct) || r.keySchema() == null) {
                    continue; // tombstones, heartbeats
                }
                Struct env = (Struct) r.value();
                if (env.schema().field("op") == null) {
                    continue;
                }
                String op = env.getString("op");
                String tn = r.topic().substring(r.topic().lastIndexOf('.') + 1);
                Struct before = env.getStruct("before"), after = env.getStruct("after");
                Struct row = op.equals("d") ? before : after;
                Table t = tables.get(tn);
                if (t == null) {
                    t = new Table(tn, r.keySchema(), row.schema());
                    tables.put(tn, t);
                }
                Struct key = (Struct) r.key();
                Object[] k = new Object[t.keyCols.size()];
                for (int i = 0; i < k.length; i++) {
                    k[i] = jdbc(t.keySchemas.get(i), key.get(t.keyCols.get(i)));
                }
                Object[] vals = null;
                if (!op.equals("d")) {
                    vals = new Object[t.cols.size()];
                    for (int i = 0; i < vals.length; i++) {
                        vals[i] = jdbc(t.colSchemas.get(i), after.get(t.cols.get(i)));
                    }
                    if (t.markerCol >= 0) {
                        m = Math.max(m, ((Number) after.get("changes")).longValue());
                    }
                }
                if (firstNs == 0) {
                    firstNs = System.nanoTime();
                }
                reduced.computeIfAbsent(t, x -> new LinkedHashMap<>()).put(Arrays.asList(k), new Change(t, k, vals));
                n++;
            }
            for (Map.Entry<Table, LinkedHashMap<List<Object>, Change>> e : reduced.entrySet()) {
                Table t = e.getKey();
                int ups = 0, dels = 0;
                try (PreparedStatement u = pg.prepareStatement(t.upsert); PreparedStatement d = pg.prepareStatement(t.delete)) {
                    for (Change c : e.getValue().values()) {
                        if (c.row != null) {
                            for (int i = 0; i < c.row.length; i++) {
                                u.setObject(i + 1, c.row[i]);
                            }
                            u.addBatch();
                            ups++;
                        }
                        else {
                            for (int i = 0; i < c.key.length; i++) {
                                d.setObject(i + 1, c.key[i]);
                            }
                            d.addBatch();
                            dels++;
                        }
                    }
                    // upserts first, then deletes, as the JDBC sink flushes them
                    if (ups > 0) {
                        u.executeBatch();
                    }
                    if (dels > 0) {
                        d.executeBatch();
                    }
                }
            }
            pg.commit();
            if (n > 0) {
                lastNs = System.nanoTime();
            }
            events += n;
            marker = m;
            if (n > 0) {
                batches++;
                sinkNs += System.nanoTime() - b0;
            }
            for (RecordChangeEvent<SourceRecord> rce : records) {
                committer.markProcessed(rce);
            }
            committer.markBatchFinished();
            if (marker >= changes) {
                done = true;
            }
        }
        catch (SQLException e) {
            SQLException next = e.getNextException();
            failure = next != null ? next : e;
            try {
                pg.rollback();
            }
            catch (SQLException ignored) {
                // failing already
            }
        }
        catch (RuntimeException e) {
            failure = e;
        }
    }

    /** a Connect value as the JDBC sink binds it to the target's column type */
    private static Object jdbc(Schema s, Object v) {
        if (v == null) {
            return null;
        }
        String name = s.name();
        if (name == null) {
            return v;
        }
        switch (name) {
            case Decimal.LOGICAL_NAME:
                return (BigDecimal) v;
            case "io.debezium.time.Timestamp": // DATETIME(0-3): ms since the epoch, the wall clock as UTC
                return LocalDateTime.ofInstant(Instant.ofEpochMilli((Long) v), ZoneOffset.UTC);
            case "io.debezium.time.MicroTimestamp":
                long us = (Long) v;
                return LocalDateTime.ofEpochSecond(Math.floorDiv(us, 1_000_000L), (int) Math.floorMod(us, 1_000_000L) * 1000, ZoneOffset.UTC);
            case "io.debezium.time.ZonedTimestamp": // TIMESTAMP: ISO-8601 in UTC
                return OffsetDateTime.parse((String) v);
            case "io.debezium.time.Date":
                return LocalDate.ofEpochDay((Integer) v);
            case "io.debezium.time.MicroTime":
                return LocalTime.ofNanoOfDay((Long) v * 1000);
            default:
                return v;
        }
    }
}
