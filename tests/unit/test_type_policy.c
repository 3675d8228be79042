/*
 * test_type_policy.c
 *	  Unit tests of the type policy (common/type_policy.c) and COPY text
 *	  escaping (common/copy_text.c), built with ASan and UBSan.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "copy_binary.h"
#include "copy_text.h"
#include "type_policy.h"


/* map: the PostgreSQL type of a MySQL column */
static const char *
map(const char *data_type, const char *column_type, bool is_json,
	tp_conv *conv, int *bits, bool *nullable)
{
	static char pgtype[64];
	char		err[256];
	tp_wire		wire;
	tp_column	c = {"c", data_type, column_type, false, 20, 10, 2, 6, is_json, NULL};

	if (!tp_map_column(&c, NULL, pgtype, sizeof(pgtype), conv, &wire, bits, nullable, err, sizeof(err)))
		return "ERROR";
	return pgtype;
}

/* map_with: the PostgreSQL type of column c under the options o */
static const char *
map_with(const tp_column *c, const tp_options *o, tp_conv *conv, tp_wire *wire)
{
	static char pgtype[64];
	char		err[256];
	int			bits;
	bool		nullable;

	if (!tp_map_column(c, o, pgtype, sizeof(pgtype), conv, wire, &bits, &nullable, err, sizeof(err)))
		return "ERROR";
	return pgtype;
}

static void
test_mapping(void)
{
	tp_conv		conv;
	int			bits;
	bool		nullable;
	const struct
	{
		const char *dt,
				   *ct,
				   *pg;
	}			cases[] = {
		{"tinyint", "tinyint(1)", "boolean"},
		{"tinyint", "tinyint(1) unsigned", "smallint"},
		{"tinyint", "tinyint(4)", "smallint"},
		{"smallint", "smallint(5) unsigned", "integer"},
		{"int", "int(11)", "integer"},
		{"int", "int(10) unsigned", "bigint"},
		{"bigint", "bigint(20) unsigned", "numeric(20,0)"},
		{"decimal", "decimal(10,2)", "numeric(10,2)"},
		{"datetime", "datetime(6)", "timestamp(6) without time zone"},
		{"timestamp", "timestamp(6)", "timestamp(6) with time zone"},
		{"time", "time", "interval"},
		{"varchar", "varchar(20)", "character varying(20)"},
		{"set", "set('a','b')", "text[]"},
		{"enum", "enum('a')", "text"},
		{"blob", "blob", "bytea"},
		{"geometry", "geometry", "bytea"},
		{"point", "point", "bytea"},
		{"linestring", "linestring", "bytea"},
		{"polygon", "polygon", "bytea"},
		{"vector", "vector(3)", "ERROR"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *got = map(cases[i].dt, cases[i].ct, false, &conv, &bits, &nullable);

		CHECK(strcmp(got, cases[i].pg) == 0, "%s -> %s, expected %s", cases[i].ct, got, cases[i].pg);
	}
	CHECK(strcmp(map("longtext", "longtext", true, &conv, &bits, &nullable), "jsonb") == 0, "MariaDB JSON");
	{
		tp_column	c = {"c", "bigint", "bigint(20) unsigned", true, -1, 20, 0, -1, false, NULL};
		tp_options	o = {true, NULL};
		tp_conv		cv;
		tp_wire		w;

		CHECK(strcmp(map_with(&c, &o, &cv, &w), "bigint") == 0 && w == TW_INT8, "bigint unsigned as bigint");
	}
	{
		/* DATETIME in a zone: timestamptz, as text PostgreSQL reads in that zone */
		tp_column	c = {"c", "datetime", "datetime(3)", true, -1, -1, -1, 3, false, NULL};
		tp_options	o = {false, "Asia/Tokyo"};
		tp_conv		cv;
		tp_wire		w;

		CHECK(strcmp(map_with(&c, &o, &cv, &w), "timestamp(3) with time zone") == 0 && w == TW_NONE &&
			  cv == TP_DATETIME, "zoned datetime");
		CHECK(strcmp(map_with(&c, NULL, &cv, &w), "timestamp(3) without time zone") == 0 && w == TW_TIMESTAMP,
			  "datetime without a zone");
	}
	CHECK(conv == TP_JSON, "JSON conversion");
	map("date", "date", false, &conv, &bits, &nullable);
	CHECK(nullable, "date columns accept NULL (zero dates)");
}

/* conv_text: value after conversion, "NULL", or "ERROR" */
static const char *
conv_text(tp_conv conv, int bits, const char *v, size_t len)
{
	static char out[256];
	ebuf		scratch;
	const char *o;
	size_t		olen;
	bool		is_null;
	char		err[256];

	ebuf_init(&scratch);
	if (!tp_convert(conv, bits, v, len, &scratch, &o, &olen, &is_null, err, sizeof(err)))
		snprintf(out, sizeof(out), "ERROR");
	else if (is_null)
		snprintf(out, sizeof(out), "NULL");
	else
		snprintf(out, sizeof(out), "%.*s", (int) olen, o);
	ebuf_free(&scratch);
	return out;
}

static void
test_values(void)
{
	CHECK(strcmp(conv_text(TP_BOOL, 0, "0", 1), "f") == 0, "bool 0");
	CHECK(strcmp(conv_text(TP_BOOL, 0, "1", 1), "t") == 0, "bool 1");
	CHECK(strcmp(conv_text(TP_BOOL, 0, "2", 1), "ERROR") == 0, "bool 2 is refused");
	CHECK(strcmp(conv_text(TP_BOOL, 0, "-1", 2), "ERROR") == 0, "bool -1 is refused");
	CHECK(strcmp(conv_text(TP_DATE, 0, "0000-00-00", 10), "NULL") == 0, "zero date");
	CHECK(strcmp(conv_text(TP_DATE, 0, "2026-00-15", 10), "NULL") == 0, "zero month");
	CHECK(strcmp(conv_text(TP_DATE, 0, "2026-11-28", 10), "2026-11-28") == 0, "date");
	CHECK(strcmp(conv_text(TP_DATETIME, 0, "2026-11-00 10:00:00", 19), "NULL") == 0, "zero day");
	CHECK(strcmp(conv_text(TP_TIMESTAMP, 0, "2026-11-28 01:02:03.5", 21), "2026-11-28 01:02:03.5+00") == 0, "UTC timestamp");
	CHECK(strcmp(conv_text(TP_TIMESTAMP, 0, "0000-00-00 00:00:00", 19), "NULL") == 0, "zero timestamp");
	CHECK(strcmp(conv_text(TP_BYTEA, 0, "\x00\xff\\", 3), "\\x00ff5c") == 0, "bytea hex");
	CHECK(strcmp(conv_text(TP_BYTEA, 0, "", 0), "\\x") == 0, "empty bytea");
	CHECK(strcmp(conv_text(TP_BIT, 10, "\x03\xff", 2), "1111111111") == 0, "bit(10) all ones");
	CHECK(strcmp(conv_text(TP_BIT, 10, "\x05", 1), "0000000101") == 0, "bit(10) from one byte");
	CHECK(strcmp(conv_text(TP_SET, 0, "", 0), "{}") == 0, "empty set");
	CHECK(strcmp(conv_text(TP_SET, 0, "x,y z,a\"b", 9), "{\"x\",\"y z\",\"a\\\"b\"}") == 0, "set quoting: %s",
		  conv_text(TP_SET, 0, "x,y z,a\"b", 9));
	CHECK(strcmp(conv_text(TP_TEXT, 0, "日本語", strlen("日本語")), "日本語") == 0, "UTF-8 text as is");
}

static void
test_copy_escaping(void)
{
	ebuf		b;

	ebuf_init(&b);
	CHECK(ct_append(&b, "a\tb\nc\\d\re", 9, true), "append");
	CHECK(b.len == 13 && memcmp(b.data, "a\\tb\\nc\\\\d\\re", 13) == 0,
		  "escaped: %.*s", (int) b.len, b.data);
	ebuf_reset(&b);
	CHECK(ct_append(&b, "\\N", 2, true) && b.len == 3 && memcmp(b.data, "\\\\N", 3) == 0,
		  "a literal \\N is not NULL");
	ebuf_reset(&b);
	CHECK(ct_append_null(&b) && b.len == 2 && memcmp(b.data, "\\N", 2) == 0, "NULL");
	ebuf_reset(&b);
	CHECK(ct_append(&b, "12345", 5, false) && b.len == 5, "numbers copied as they are");
	ebuf_free(&b);

	/* a long value grows the buffer */
	{
		char		big[100000];

		memset(big, '\t', sizeof(big));
		ebuf_init(&b);
		CHECK(ct_append(&b, big, sizeof(big), true) && b.len == 2 * sizeof(big), "long value");
		ebuf_free(&b);
	}
}

/* hex of the binary COPY field for a value ("NULL" for a NULL field) */
static const char *
binary_hex(tp_wire wire, int bits, const char *v)
{
	static char hex[512];
	ebuf		b;
	char		err[256];
	size_t		n = 0;

	ebuf_init(&b);
	if (!cb_value(&b, TP_NUMBER, wire, bits, v, strlen(v), err, sizeof(err)))
		snprintf(hex, sizeof(hex), "ERROR");
	else if (b.len == 4 && memcmp(b.data, "\xff\xff\xff\xff", 4) == 0)
		snprintf(hex, sizeof(hex), "NULL");
	else
		for (size_t i = 4; i < b.len && n + 3 < sizeof(hex); i++)
			n += (size_t) snprintf(hex + n, sizeof(hex) - n, "%02x", (unsigned char) b.data[i]);
	ebuf_free(&b);
	return hex;
}

static void
test_binary(void)
{
	/* numeric: ndigits, weight, sign, dscale, base-10000 digits (as numeric_send) */
	CHECK(strcmp(binary_hex(TW_NUMERIC, 0, "0"), "0000000000000000") == 0, "0: %s", binary_hex(TW_NUMERIC, 0, "0"));
	CHECK(strcmp(binary_hex(TW_NUMERIC, 0, "10000"), "00010001000000000001") == 0, "10000: %s", binary_hex(TW_NUMERIC, 0, "10000"));
	CHECK(strcmp(binary_hex(TW_NUMERIC, 0, "-0.50"), "0001ffff400000021388") == 0, "-0.50: %s", binary_hex(TW_NUMERIC, 0, "-0.50"));
	CHECK(strcmp(binary_hex(TW_NUMERIC, 0, "140.00"), "0001000000000002008c") == 0, "140.00: %s",
		  binary_hex(TW_NUMERIC, 0, "140.00"));
	CHECK(strcmp(binary_hex(TW_NUMERIC, 0, "18446744073709551615"), "000500040000000007341a5802e103bb064f") == 0,
		  "bigint unsigned max: %s", binary_hex(TW_NUMERIC, 0, "18446744073709551615"));
	CHECK(strcmp(binary_hex(TW_NUMERIC, 0, "12a"), "ERROR") == 0, "not a number");
	/* timestamps: microseconds since 2000-01-01 */
	CHECK(strcmp(binary_hex(TW_TIMESTAMP, 0, "2000-01-01 00:00:00"), "0000000000000000") == 0, "epoch");
	CHECK(strcmp(binary_hex(TW_TIMESTAMP, 0, "2000-01-01 00:00:01.5"), "000000000016e360") == 0, "1.5 s: %s",
		  binary_hex(TW_TIMESTAMP, 0, "2000-01-01 00:00:01.5"));
	CHECK(strcmp(binary_hex(TW_TIMESTAMP, 0, "1999-12-31 23:59:59"), "fffffffffff0bdc0") == 0, "before 2000: %s",
		  binary_hex(TW_TIMESTAMP, 0, "1999-12-31 23:59:59"));
	CHECK(strcmp(binary_hex(TW_TIMESTAMP, 0, "0000-00-00 00:00:00"), "NULL") == 0, "zero timestamp");
	CHECK(strcmp(binary_hex(TW_DATE, 0, "2000-01-02"), "00000001") == 0, "date");
	CHECK(strcmp(binary_hex(TW_DATE, 0, "2026-00-10"), "NULL") == 0, "zero month");
	/* interval from TIME: microseconds, days, months */
	CHECK(strcmp(binary_hex(TW_INTERVAL, 0, "-00:00:01"), "fffffffffff0bdc00000000000000000") == 0, "negative time: %s",
		  binary_hex(TW_INTERVAL, 0, "-00:00:01"));
	/* integers, booleans, bits, sets */
	CHECK(strcmp(binary_hex(TW_INT2, 0, "-2"), "fffe") == 0, "int2");
	CHECK(strcmp(binary_hex(TW_INT2, 0, "40000"), "ERROR") == 0, "int2 overflow");
	CHECK(strcmp(binary_hex(TW_INT8, 0, "9223372036854775807"), "7fffffffffffffff") == 0, "int8 max");
	CHECK(strcmp(binary_hex(TW_BOOL, 0, "2"), "ERROR") == 0, "bool 2");
	CHECK(strcmp(binary_hex(TW_BIT, 10, "\x01\x05"), "0000000a4140") == 0, "bit(10) 0100000101: %s",
		  binary_hex(TW_BIT, 10, "\x01\x05"));
	CHECK(strcmp(binary_hex(TW_TEXT_ARRAY, 0, ""), "000000000000000000000019") == 0, "empty set");
	CHECK(strcmp(binary_hex(TW_TEXT_ARRAY, 0, "a,bc"), "0000000100000000000000190000000200000001000000016100000002626" "3") == 0,
		  "set a,bc: %s", binary_hex(TW_TEXT_ARRAY, 0, "a,bc"));
}

/* the MySQL expression each column is read with */
static void
test_select_expr(void)
{
	struct
	{
		const char *dt,
				   *expr;
	}			cases[] = {
		{"float", "CAST(`c` AS DOUBLE)"},
		{"double", "`c`"},
		{"geometry", "ST_AsBinary(`c`)"},
		{"multipolygon", "ST_AsBinary(`c`)"},
		{"int", "`c`"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		tp_column	col = {"c", cases[i].dt, cases[i].dt, true, -1, -1, -1, -1, false, NULL};
		ebuf		b;

		ebuf_init(&b);
		CHECK(tp_select_expr(&b, &col, "`c`") && ebuf_putc(&b, '\0'), "select expression of %s", cases[i].dt);
		CHECK(strcmp(b.data, cases[i].expr) == 0, "%s read as %s, expected %s", cases[i].dt, b.data, cases[i].expr);
		ebuf_free(&b);
	}
}

int
main(void)
{
	test_mapping();
	test_select_expr();
	test_values();
	test_copy_escaping();
	test_binary();
	printf("test_type_policy: %d checks, %d failed\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
