/*
 * test_mysql_json.c
 *	  Unit tests of MySQL's binary JSON (common/mysql_json.c) and of its
 *	  place in the row decoder (common/binlog_rows.c), on bytes a real MySQL
 *	  9.7 wrote to its binary log (tests/integration/mysql_json.sh compares
 *	  many more with SELECT on the mysql9 stack): each value's text is what
 *	  SELECT gave for it; a PARTIAL_JSON update's diffs applied to the
 *	  before image give what SELECT gave after the update; every shorter
 *	  prefix of a value, and damaged bytes, give an error and no output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_rows.h"
#include "check.h"
#include "mysql_json.h"

/* values of the binary log, and what SELECT gave for them */
static const struct
{
	const char *hex;
	const char *text;
}			real_values[] =
{
	{
		"0004004a00200001002100020023000200250003000228000b3500050100003d00616162"
		"626263636303000d0004010004020004000000000000000004c001000d000b0000000c0b"
		"000178",
		"{\"a\": [true, false, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}"
	},
	{
		"020c00600005000005ffff05ff7f072800072c000730000734000938000a40000a480009"
		"50000a5800ff7fffffffff000000000100ffffff7fffffff7fffffffff00000000010000"
		"00ffffffffffffff7f0000000000000080ffffffffffffffff",
		"[0, -1, 32767, -32769, 65535, 65536, 2147483647, -2147483649, 42949672"
		"96, 9223372036854775807, -9223372036854775808, 18446744073709551615]"
	},
	{
		"020b007d000b25000b2d000b35000b3d000b45000b4d000b55000b5d000b65000b6d000b"
		"7500000000000000f03f00000000000000809a9999999999b93f9c7500883ce4377e0100"
		"00000000000000003426f56b0c430000901ec4bcd6422d431cebe236fabebc89d897b2d2"
		"9c3cffffffffffffef7f66de77832112dc42",
		"[1.0, -0.0, 0.1, 1e300, 5e-324, 1e15, 100000000000000.0, -0.000025, 1e"
		"-16, 1.7976931348623157e308, 123456789012345.6]"
	},
	{
		"0002004c0012000100130001000c14000c3a0073752571756f74652022206261636b736c"
		"617368205c202f2009200a200d200c20082001201f207f11e697a5e69cace8aa9e20c3a9"
		"20f09f9880",
		"{\"s\": \"quote \\\" backslash \\\\ / \\t \\n \\r \\f \\b \\u0001 \\u0"
		"01f \x7f\", \"u\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xc3\xa9 \xf0"
		"\x9f\x98\x80\"}"
	},
	{
		"0206004f000f16000f20000f28000f31000f3b000f4500f6080d047fffff84ee6bf60609"
		"0080000000f6070b0280000000000a080000000000bab2190b08e05ef80591cbffff0c08"
		"3f420ffb7efff37e",
		"[-123.4500, 0, 0.00, \"2024-02-29\", \"-838:59:58.500000\", \"9999-12-"
		"31 23:59:59.999999\"]"
	},
	{
		"000400b900200002002200030025000400290005000f2e000f38000f3d000fb700747362"
		"696e6c6f6e67656d7074790708140a0c4641c667190f0300ff100f786162616261626162"
		"616261626162616261626162616261626162616261626162616261626162616261626162"
		"616261626162616261626162616261626162616261626162616261626162616261626162"
		"616261626162616261626162616261626162616261626162616261626162616261626162"
		"616261620f00",
		"{\"ts\": \"2001-02-03 04:05:06.789012\", \"bin\": \"base64:type15:AP8Q"
		"\", \"long\": \"base64:type15:YWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFi"
		"YWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJh\\nYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJ"
		"hYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFi\\nYWJhYmFi\", \"empty\":"
		" \"base64:type15:\"}"
	},
	{
		"0c10746f702d6c6576656c20737472696e67",
		"\"top-level string\""
	},
	{
		"0400",
		"null"
	},
	{
		"0202002700020a00002300010019000207000100120002070001000b0002070000000400"
		"00000400",
		"[[[[[]]]], {}]"
	},
	{
		"00010019000b000100020c006b03000d00050100050200050300",
		"{\"k\": [1, 2, 3]}"
	},
};

/*
 * a PARTIAL_UPDATE_ROWS event of the binary log (rows 1 and 8 above, their
 * after images diffs) and its TABLE_MAP: u (id INT, a JSON, n INT, b JSON)
 */
static const char *partial_map =
	"8800000000000100066d5f756e6974000175000403f503f50204040e0101000409026964"
	"0161016e01620801000c01f0";
static const char *partial_rows =
	"8800000000001100020004ffff08010000004b0000000004004a00200001002100020023"
	"000200250003000228000b3500050100003d00616162626263636303000d000401000402"
	"0004000000000000000004c001000d000b0000000c0b0001780100000001010801000000"
	"310000000104242e6464050c036e65770006242e615b315d070ff604020181000107242e"
	"226b2079220b0f0a0800000000008ebb1901000000000800000028000000020200270002"
	"0a00002300010019000207000100120002070001000b0002070000000400000004000800"
	"00001a00000000010019000b000100020c006b03000d0005010005020005030001030008"
	"00000000000000080000000f0000000009242e6b5b6c6173745d030c017a";

/*
 * the diffs of a PARTIAL_JSON update (the after image of a partial
 * column, after its length), the before value's index in real_values, and
 * what SELECT gave after the update
 */
static const struct
{
	int			before;
	const char *diff;
	const char *text;
}			real_diffs[] =
{
	/* JSON_SET(a, '$.dd', 'new', '$.a[1]', 1.0, '$."k y"', DATE'2026-12-07') */
	{
		0,
		"0104242e6464050c036e65770006242e615b315d070ff604020181000107242e226b2079"
		"220b0f0a0800000000008ebb19",
		"{\"a\": [true, 1.0, null], \"ab\": -2.5, \"bb\": 1, \"dd\": \"new\", \"c"
		"cc\": {\"\": \"x\"}, \"k y\": \"2026-12-07\"}"
	},
	/* JSON_REMOVE(a, '$[1]', '$[last]') */
	{
		1,
		"0204245b315d0207245b6c6173745d",
		"[0, 32767, -32769, 65535, 65536, 2147483647, -2147483649, 4294967296, 9"
		"223372036854775807, -9223372036854775808]"
	},
	/* JSON_SET(b, '$.k[last]', 'z') */
	{
		9,
		"0009242e6b5b6c6173745d030c017a",
		"{\"k\": [1, 2, \"z\"]}"
	},
	/* a column the statement did not change: no diffs */
	{
		8,
		"",
		"[[[[[]]]], {}]"
	},
};

static uint8_t *
unhex(const char *hex, size_t *len)
{
	size_t		n = strlen(hex) / 2;
	uint8_t    *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &p[i]);
	*len = n;
	return p;
}

/* text_is: (p, len) decodes to want */
static void
text_is(const uint8_t *p, size_t len, const char *want, const char *what)
{
	ebuf		b;
	char		err[256] = "";
	bool		ok;

	ebuf_init(&b);
	/* what is there stays: the text is appended */
	CHECK(ebuf_puts(&b, "<"), "prefix");
	ok = mj_text(p, len, &b, err, sizeof(err));
	CHECK(ok, "%s: %s", what, err);
	if (ok)
		CHECK(b.len == strlen(want) + 1 && memcmp(b.data + 1, want, b.len - 1) == 0,
			  "%s:\n  got  %.*s\n  want %s", what, (int) b.len - 1, b.data + 1, want);
	ebuf_free(&b);
}

/* fails: (p, len) is refused with a message, and adds nothing */
static void
fails(const uint8_t *p, size_t len, const char *what)
{
	ebuf		b;
	char		err[256] = "";

	ebuf_init(&b);
	CHECK(ebuf_puts(&b, "<"), "prefix");
	CHECK(!mj_text(p, len, &b, err, sizeof(err)), "%s: decoded as %.*s", what, (int) b.len, b.data);
	CHECK(b.len == 1 && err[0] != '\0', "%s: output %zu bytes, message [%s]", what, b.len, err);
	ebuf_free(&b);
}

static void
test_real_values(void)
{
	for (size_t i = 0; i < sizeof(real_values) / sizeof(real_values[0]); i++)
	{
		size_t		len;
		uint8_t    *p = unhex(real_values[i].hex, &len);
		char		what[64];

		snprintf(what, sizeof(what), "value %zu", i);
		text_is(p, len, real_values[i].text, what);
		/* every shorter prefix is malformed (the empty value reads as null) */
		for (size_t n = 1; n < len; n++)
		{
			uint8_t    *cut = malloc(n);

			memcpy(cut, p, n);
			snprintf(what, sizeof(what), "value %zu cut to %zu bytes", i, n);
			fails(cut, n, what);
			free(cut);
		}
		/* any byte changed: decoded or refused, never a read outside (ASan) */
		for (size_t k = 0; k < len; k++)
			for (int bit = 0; bit < 8; bit++)
			{
				ebuf		b;
				char		err[256];

				ebuf_init(&b);
				p[k] ^= (uint8_t) (1 << bit);
				(void) mj_text(p, len, &b, err, sizeof(err));
				p[k] ^= (uint8_t) (1 << bit);
				ebuf_free(&b);
			}
		free(p);
	}
	text_is((const uint8_t *) "", 0, "null", "the empty value");
}

/* double_is: a binary double of bits prints as want */
static void
double_is(double d, const char *want)
{
	uint8_t		v[9] = {0x0b};
	uint64_t	bits;

	memcpy(&bits, &d, 8);
	for (int i = 0; i < 8; i++)
		v[1 + i] = (uint8_t) (bits >> (8 * i));
	text_is(v, 9, want, want);
}

static void
test_doubles(void)
{
	/* what MySQL 9.7's SELECT gave for them */
	double_is(1.0, "1.0");
	double_is(-0.0, "-0.0");
	double_is(0.0, "0.0");
	double_is(0.1, "0.1");
	double_is(1e300, "1e300");
	double_is(-1e300, "-1e300");
	double_is(1e-300, "1e-300");
	double_is(5e-324, "5e-324");
	double_is(1e15, "1e15");
	double_is(1e14, "100000000000000.0");
	double_is(1e16, "1e16");
	double_is(123456789012345.6, "123456789012345.6");
	double_is(1234567890123456.7, "1234567890123456.8");
	double_is(0.000001, "0.000001");
	double_is(1e-7, "0.0000001");
	double_is(1e-15, "0.000000000000001");
	double_is(1e-16, "1e-16");
	double_is(-2.5e-5, "-0.000025");
	double_is(1.5e-10, "0.00000000015");
	double_is(100.0, "100.0");
	double_is(1e21, "1e21");
	double_is(1.7976931348623157e308, "1.7976931348623157e308");
	double_is(2.225073858507201e-308, "2.225073858507201e-308");
	double_is((double) 1.1f, "1.100000023841858");
	double_is(-3.3999999521443642e38, "-3.3999999521443642e38");
}

static void
test_large_format(void)
{
	/*
	 * ["abcdefghij" x 7000, "end"]: over 64 KB, so MySQL wrote it in the
	 * large format (4-byte counts, sizes and offsets); rebuilt here byte
	 * for byte as the binary log held it (112,018 bytes)
	 */
	size_t		n = 7001,
				hdr = 8 + n * 5,
				len = 1 + hdr + 7000 * 11 + 4,
				pos = hdr;
	uint8_t    *p = malloc(len);
	ebuf		want,
				got;
	char		err[256];
	uint8_t    *diff;
	size_t		dlen;

	p[0] = 0x03;
	for (int i = 0; i < 4; i++)
	{
		p[1 + i] = (uint8_t) (n >> (8 * i));
		p[5 + i] = (uint8_t) ((len - 1) >> (8 * i));
	}
	for (size_t k = 0; k < n; k++)
	{
		const char *s = k < 7000 ? "abcdefghij" : "end";
		size_t		sl = strlen(s);

		p[1 + 8 + k * 5] = 0x0c;
		for (int i = 0; i < 4; i++)
			p[1 + 8 + k * 5 + 1 + i] = (uint8_t) (pos >> (8 * i));
		p[1 + pos] = (uint8_t) sl;
		memcpy(p + 1 + pos + 1, s, sl);
		pos += 1 + sl;
	}
	CHECK(1 + pos == len, "built %zu bytes", 1 + pos);
	ebuf_init(&want);
	ebuf_init(&got);
	ebuf_putc(&want, '[');
	for (int k = 0; k < 7000; k++)
		ebuf_puts(&want, "\"abcdefghij\", ");
	ebuf_puts(&want, "\"end\"]");
	CHECK(mj_text(p, len, &got, err, sizeof(err)), "large: %s", err);
	CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0, "large: %zu bytes, want %zu",
		  got.len, want.len);

	/* JSON_SET(a, '$[0]', 'first', '$[7001]', 'appended'): a REPLACE and an INSERT at the end */
	diff = unhex("0004245b305d070c0566697273740107245b373030315d0a0c08617070656e646564", &dlen);
	ebuf_reset(&want);
	ebuf_puts(&want, "[\"first\", ");
	for (int k = 1; k < 7000; k++)
		ebuf_puts(&want, "\"abcdefghij\", ");
	ebuf_puts(&want, "\"end\", \"appended\"]");
	ebuf_reset(&got);
	CHECK(mj_apply_diff(p, len, diff, dlen, &got, err, sizeof(err)), "large diff: %s", err);
	CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0, "large diff: %zu bytes, want %zu",
		  got.len, want.len);
	free(diff);
	ebuf_free(&want);
	ebuf_free(&got);
	free(p);
}

static void
test_depth(void)
{
	/* 100 nested arrays are MySQL's limit; 101 are refused */
	for (int depth = 99; depth <= 101; depth++)
	{
		/*
		 * [[...[]...]]: the type byte, then each array's count and size (2
		 * bytes each) and one entry (type 02, offset 7: right after it);
		 * the innermost is [] (count 0, size 4)
		 */
		size_t		len = 1 + (size_t) (depth - 1) * 7 + 4;
		uint8_t    *p = calloc(1, len);
		char		err[256];
		ebuf		b;
		bool		ok;

		p[0] = 0x02;
		for (int i = 0; i < depth; i++)
		{
			uint8_t    *a = p + 1 + (size_t) i * 7;
			size_t		size = len - 1 - (size_t) i * 7;

			a[0] = i < depth - 1;
			a[2] = (uint8_t) size;
			a[3] = (uint8_t) (size >> 8);
			if (i < depth - 1)
			{
				a[4] = 0x02;
				a[5] = 7;
			}
		}
		ebuf_init(&b);
		ok = mj_text(p, len, &b, err, sizeof(err));
		CHECK(ok == (depth <= 100), "depth %d: %s", depth, ok ? "decoded" : err);
		if (ok)
			CHECK(b.len == (size_t) depth * 2 && b.data[depth - 1] == '[' && b.data[depth] == ']',
				  "depth %d: %.*s", depth, (int) b.len, b.data);
		ebuf_free(&b);
		free(p);
	}
}

/* diff_is: before (binary) changed by the diffs (hex) gives want, or fails when want is NULL */
static void
diff_is(const uint8_t *before, size_t blen, const char *hex, const char *want, const char *what)
{
	size_t		dlen;
	uint8_t    *diff = unhex(hex, &dlen);
	ebuf		b;
	char		err[256] = "";
	bool		ok;

	ebuf_init(&b);
	CHECK(ebuf_puts(&b, "<"), "prefix");
	ok = mj_apply_diff(before, blen, diff, dlen, &b, err, sizeof(err));
	if (want == NULL)
		CHECK(!ok && b.len == 1 && err[0], "%s: applied as %.*s", what, (int) b.len, b.data);
	else
	{
		CHECK(ok, "%s: %s", what, err);
		if (ok)
			CHECK(b.len == strlen(want) + 1 && memcmp(b.data + 1, want, b.len - 1) == 0,
				  "%s:\n  got  %.*s\n  want %s", what, (int) b.len - 1, b.data + 1, want);
	}
	ebuf_free(&b);
	free(diff);
}

static void
test_real_diffs(void)
{
	for (size_t i = 0; i < sizeof(real_diffs) / sizeof(real_diffs[0]); i++)
	{
		size_t		blen,
					dlen;
		uint8_t    *before = unhex(real_values[real_diffs[i].before].hex, &blen);
		uint8_t    *diff = unhex(real_diffs[i].diff, &dlen);
		char		what[64];

		snprintf(what, sizeof(what), "diff %zu", i);
		diff_is(before, blen, real_diffs[i].diff, real_diffs[i].text, what);
		/*
		 * cut short, the diffs are malformed, but for a cut between two
		 * diffs (the first ones alone); damaged, never read outside
		 */
		for (size_t n = 1; n < dlen; n++)
		{
			ebuf		b;
			char		err[256];

			ebuf_init(&b);
			if (!mj_apply_diff(before, blen, diff, n, &b, err, sizeof(err)))
				CHECK(b.len == 0, "%s cut to %zu bytes: output left", what, n);
			else
				CHECK((i == 0 && (n == 12 || n == 28)) || (i == 1 && n == 6),
					  "%s cut to %zu bytes: applied", what, n);
			ebuf_free(&b);
		}
		for (size_t k = 0; k < dlen; k++)
			for (int bit = 0; bit < 8; bit++)
			{
				ebuf		b;
				char		err[256];

				ebuf_init(&b);
				diff[k] ^= (uint8_t) (1 << bit);
				(void) mj_apply_diff(before, blen, diff, dlen, &b, err, sizeof(err));
				diff[k] ^= (uint8_t) (1 << bit);
				ebuf_free(&b);
			}
		free(diff);
		free(before);
	}
}

/* a diff's bytes: op, then the path and (but for REMOVE) the value, length-encoded */
static char *
diff_hex(int op, const char *path, const char *value_hex)
{
	static char buf[1024];
	int			n = 0;

	n += snprintf(buf + n, sizeof(buf) - n, "%02x%02zx", op, strlen(path));
	for (const char *c = path; *c; c++)
		n += snprintf(buf + n, sizeof(buf) - n, "%02x", (unsigned char) *c);
	if (value_hex)
		n += snprintf(buf + n, sizeof(buf) - n, "%02zx%s", strlen(value_hex) / 2, value_hex);
	return buf;
}

static void
test_diff_rules(void)
{
	size_t		olen,
				alen;
	/* {"a": [true, false, null], "ab": -2.5, "bb": 1, "ccc": {"": "x"}} and [[[[[]]]], {}] */
	uint8_t    *obj = unhex(real_values[0].hex, &olen);
	uint8_t    *arr = unhex(real_values[8].hex, &alen);
	const char *one = "050100";	/* the int16 1 */

	/* a REPLACE needs the value there, an INSERT needs it not there (in an object) */
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.bb", one), "{\"a\": [true, false, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}", "replace bb");
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.zz", one), NULL, "replace a missing member");
	diff_is(obj, olen, diff_hex(MJ_INSERT, "$.bb", one), NULL, "insert an existing member");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.zz", NULL), NULL, "remove a missing member");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.a[3]", NULL), NULL, "remove past the end");
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.bb.x", one), NULL, "a path through a scalar");
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$", one), NULL, "the whole value");
	/* members go in MySQL's key order: shorter keys first, then by bytes */
	diff_is(obj, olen, diff_hex(MJ_INSERT, "$.b", one),
			"{\"a\": [true, false, null], \"b\": 1, \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}", "insert b");
	diff_is(obj, olen, diff_hex(MJ_INSERT, "$.\"\\u00e9\\ud83d\\ude00 \\\"\"", one),
			"{\"a\": [true, false, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}, \"\xc3\xa9\xf0\x9f\x98\x80 \\\"\": 1}",
			"a quoted member with escapes");
	diff_is(obj, olen, diff_hex(MJ_INSERT, "$.ccc.\"\"", one), NULL, "insert the existing empty key");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.ccc.\"\"", NULL), "{\"a\": [true, false, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {}}",
			"remove the empty key");
	/* arrays: last, last-N, an INSERT past the end appends */
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.a[last - 1]", one),
			"{\"a\": [true, 1, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}", "replace last-1");
	diff_is(obj, olen, diff_hex(MJ_INSERT, "$.a[99]", one),
			"{\"a\": [true, false, null, 1], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}", "insert past the end");
	diff_is(obj, olen, diff_hex(MJ_INSERT, "$.a[0]", one),
			"{\"a\": [1, true, false, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}", "insert at 0");
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.a[3]", one), NULL, "replace past the end");
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.a.x", one), NULL, "a member of an array");
	diff_is(arr, alen, diff_hex(MJ_REPLACE, "$[0][0][0][0]", one), "[[[[1]]], {}]", "deep");
	diff_is(arr, alen, diff_hex(MJ_INSERT, "$[1].k", "0400"), "[[[[[]]]], {\"k\": null}]", "into {}");
	/* paths MySQL never writes, malformed paths and values */
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.*", NULL), NULL, "a wildcard");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.a[*]", NULL), NULL, "an array wildcard");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$**.a", NULL), NULL, "an ellipsis");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.a[0 to 1]", NULL), NULL, "a range");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "a", NULL), NULL, "no $");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.\"a", NULL), NULL, "an open quote");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$.\"\\ud800\"", NULL), NULL, "a lone surrogate");
	diff_is(obj, olen, diff_hex(MJ_REMOVE, "$[4294967296]", NULL), NULL, "an index over 32 bits");
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.bb", "05"), NULL, "a truncated value");
	diff_is(obj, olen, diff_hex(3, "$.bb", one), NULL, "operation 3");
	diff_is(obj, olen, "00fb", NULL, "a NULL path length");
	/* an empty value is null, as MySQL reads it */
	diff_is(obj, olen, diff_hex(MJ_REPLACE, "$.bb", ""),
			"{\"a\": [true, false, null], \"ab\": -2.5, \"bb\": null, \"ccc\": {\"\": \"x\"}}", "an empty value");
	/* diffs apply in order, each to what the ones before made */
	{
		char		both[2048];

		snprintf(both, sizeof(both), "%s", diff_hex(MJ_INSERT, "$.x", "0c0178"));
		strcat(both, diff_hex(MJ_REMOVE, "$.x", NULL));
		diff_is(obj, olen, both, "{\"a\": [true, false, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}", "insert, remove");
	}
	/* the before value may be a scalar, or empty (null) */
	diff_is((const uint8_t *) "", 0, diff_hex(MJ_REMOVE, "$.a", NULL), NULL, "remove from null");
	diff_is((const uint8_t *) "", 0, "", "null", "no diff on an empty value");
	free(obj);
	free(arr);
}

static void
test_partial_event(void)
{
	size_t		mlen,
				rlen,
				pos = 0;
	uint8_t    *map = unhex(partial_map, &mlen);
	uint8_t    *rows = unhex(partial_rows, &rlen);
	br_table	t;
	br_rows		r;
	br_image	img,
				after;
	char		err[512];
	static const char *want[2][4] = {
		{"{\"a\": [true, false, null], \"ab\": -2.5, \"bb\": 1, \"ccc\": {\"\": \"x\"}}", NULL,
			real_diffs[0].text, NULL},
		{"[[[[[]]]], {}]", "{\"k\": [1, 2, 3]}", "[[[[[]]]], {}]", "{\"k\": [1, 2, \"z\"]}"}
	};

	br_image_init(&img);
	br_image_init(&after);
	CHECK(br_is_rows_event(BR_EV_PARTIAL_UPDATE_ROWS), "type 39 is a rows event");
	CHECK(br_parse_table_map(map, mlen, 6, &t, err, sizeof(err)), "map: %s", err);
	CHECK(t.ncols == 4 && t.cols[1].type == BR_JSON && t.cols[1].meta == 4, "a JSON column of 4 length bytes");
	CHECK(br_parse_rows(BR_EV_PARTIAL_UPDATE_ROWS, rows, rlen, 6, &r, err, sizeof(err)), "rows: %s", err);
	CHECK(r.kind == BR_UPDATE && r.partial, "a partial update");
	/* br_next_row: the before image, and the after image whole */
	for (int row = 0; row < 2; row++)
	{
		CHECK(br_next_row(&r, &t, &pos, &img, &after, err, sizeof(err)), "row %d: %s", row, err);
		for (int k = 0; k < 4; k++)
		{
			const br_image *im = k < 2 ? &img : &after;
			const char *v = br_value(im, k % 2 ? 3 : 1);
			const char *w = want[row][k];

			CHECK((v == NULL) == (w == NULL) && (w == NULL || strcmp(v, w) == 0),
				  "row %d image %d: got %s, want %s", row, k, v ? v : "NULL", w ? w : "NULL");
		}
	}
	CHECK(pos == r.len, "the whole event: %zu of %zu", pos, r.len);
	/* br_next_image: the after image into the image that holds its before image */
	pos = 0;
	for (int row = 0; row < 2; row++)
	{
		CHECK(br_next_image(&r, &t, r.present, &pos, &img, err, sizeof(err)), "row %d before: %s", row, err);
		CHECK(br_next_image(&r, &t, r.present_after, &pos, &img, err, sizeof(err)), "row %d after: %s", row, err);
		CHECK(strcmp(br_value(&img, 1), want[row][2]) == 0, "row %d: %s", row, br_value(&img, 1));
	}
	/* and not without it */
	pos = 0;
	CHECK(br_next_image(&r, &t, r.present, &pos, &img, err, sizeof(err)), "before: %s", err);
	CHECK(!br_next_image(&r, &t, r.present_after, &pos, &after, err, sizeof(err)) && strstr(err, "without its before image"),
		  "an after image alone: %s", err);
	/* cut short anywhere, the event is refused, never read past */
	for (size_t n = 0; n < rlen; n++)
	{
		uint8_t    *cut = malloc(n ? n : 1);
		br_rows		cr;

		memcpy(cut, rows, n);
		if (br_parse_rows(BR_EV_PARTIAL_UPDATE_ROWS, cut, n, 6, &cr, err, sizeof(err)))
		{
			size_t		p = 0;
			int			nrows = 0;
			bool		ok = true;

			while (p < cr.len && (ok = br_next_row(&cr, &t, &p, &img, &after, err, sizeof(err))))
				nrows++;
			/* only a cut after the first row gives a whole (shorter) event */
			CHECK(!ok || cr.len == 0 || n == rlen || nrows == 1, "cut to %zu: %d rows decoded", n, nrows);
		}
		free(cut);
	}
	br_table_free(&t);
	br_image_free(&img);
	br_image_free(&after);
	free(map);
	free(rows);
}

int
main(void)
{
	test_real_values();
	test_doubles();
	test_large_format();
	test_depth();
	test_real_diffs();
	test_diff_rules();
	test_partial_event();
	printf("test_mysql_json: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
