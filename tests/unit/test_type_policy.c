/*
 * test_type_policy.c
 *	  Unit tests of the type policy (common/type_policy.c) and COPY text
 *	  escaping (common/copy_text.c), built with ASan and UBSan.
 */
#include <stdio.h>
#include <string.h>

#include "copy_text.h"
#include "type_policy.h"

static int	failures = 0;
static int	checks = 0;

#define CHECK(cond, ...) do { \
	checks++; \
	if (!(cond)) { \
		failures++; \
		fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} \
} while (0)

/* map: the PostgreSQL type of a MySQL column */
static const char *
map(const char *data_type, const char *column_type, bool is_json,
	tp_conv *conv, int *bits, bool *nullable)
{
	static char pgtype[64];
	char		err[256];
	tp_column	c = {"c", data_type, column_type, false, 20, 10, 2, 6, is_json};

	if (!tp_map_column(&c, pgtype, sizeof(pgtype), conv, bits, nullable, err, sizeof(err)))
		return err[0] ? "ERROR" : "ERROR";
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
		{"geometry", "geometry", "ERROR"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *got = map(cases[i].dt, cases[i].ct, false, &conv, &bits, &nullable);

		CHECK(strcmp(got, cases[i].pg) == 0, "%s -> %s, expected %s", cases[i].ct, got, cases[i].pg);
	}
	CHECK(strcmp(map("longtext", "longtext", true, &conv, &bits, &nullable), "jsonb") == 0, "MariaDB JSON");
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

int
main(void)
{
	test_mapping();
	test_values();
	test_copy_escaping();
	printf("test_type_policy: %d checks, %d failed\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
