/*
 * test_event_decode.c
 *	  Unit tests of the event decoder (common/event_decode.c): the
 *	  page-view event into values and binary COPY, every reason to
 *	  dead-letter, the timestamp parser against known instants, CSV
 *	  encoding, and the fast path against jansson's.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "event_decode.h"

static ev_field pv_fields[] = {
	{"kafka_partition", NULL, EV_INTEGER, EV_FROM_PARTITION, false},
	{"kafka_offset", NULL, EV_BIGINT, EV_FROM_OFFSET, false},
	{"user_id", "user_id", EV_BIGINT, EV_FROM_JSON, true},
	{"age", "age", EV_SMALLINT, EV_FROM_JSON, false},
	{"gender", "gender", EV_TEXT, EV_FROM_JSON, false},
	{"page", "page", EV_TEXT, EV_FROM_JSON, true},
	{"viewed_at", "viewed_at", EV_TIMESTAMPTZ, EV_FROM_JSON, true},
};
static ev_spec pv_spec = {7, pv_fields, 200};

static ev_kind
decode(ev_decoder *d, const char *payload, size_t len, char *reason)
{
	ev_msg		m = {payload, len, "k", 1, 3, 42, 1795791600000, "page_views"};

	return ev_decode(d, &m, reason, 256);
}

#define DECODES_AS(json, kind, reason_part) do { \
	char r_[256] = ""; \
	ev_kind k_ = decode(d, json, strlen(json), r_); \
	CHECK(k_ == (kind), "%s: got %s (%s), want %s", json, ev_kind_name(k_), r_, ev_kind_name(kind)); \
	CHECK(strstr(r_, reason_part) != NULL, "%s: reason \"%s\" lacks \"%s\"", json, r_, reason_part); \
} while (0)

static uint64_t
be(const unsigned char *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
test_page_view(void)
{
	ev_decoder *d = ev_decoder_new(&pv_spec);
	const char *ev = "{\"user_id\":42,\"age\":31,\"gender\":\"female\",\"occupation\":\"会社員\","
		"\"page\":\"/products/118\",\"viewed_at\":\"2026-11-28T10:15:00.123+09:00\"}";
	char		reason[256];
	ebuf		out;
	const unsigned char *p;
	int64_t		us;

	CHECK(decode(d, ev, strlen(ev), reason) == EV_OK, "%s", reason);
	ebuf_init(&out);
	CHECK(ev_encode_binary(d, &out), "encode");
	p = (const unsigned char *) out.data;
	CHECK(be(p, 2) == 7, "field count");
	p += 2;
	CHECK(be(p, 4) == 4 && be(p + 4, 4) == 3, "partition");
	p += 8;
	CHECK(be(p, 4) == 8 && be(p + 4, 8) == 42, "offset");
	p += 12;
	CHECK(be(p, 4) == 8 && be(p + 4, 8) == 42, "user_id");
	p += 12;
	CHECK(be(p, 4) == 2 && be(p + 4, 2) == 31, "age");
	p += 6;
	CHECK(be(p, 4) == 6 && memcmp(p + 4, "female", 6) == 0, "gender");
	p += 10;
	CHECK(be(p, 4) == 13 && memcmp(p + 4, "/products/118", 13) == 0, "page");
	p += 17;
	CHECK(ev_parse_timestamptz("2026-11-28T01:15:00.123Z", 24, &us), "parse");
	CHECK(be(p, 4) == 8 && (int64_t) be(p + 4, 8) == us, "viewed_at");
	p += 12;
	CHECK((size_t) (p - (const unsigned char *) out.data) == out.len, "row length %zu", out.len);

	/* optional fields may be absent or null: NULL */
	ebuf_reset(&out);
	ev = "{\"user_id\":1,\"age\":null,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}";
	CHECK(decode(d, ev, strlen(ev), reason) == EV_OK, "%s", reason);
	CHECK(ev_encode_binary(d, &out), "encode");
	CHECK(be((const unsigned char *) out.data + 2 + 8 + 12 + 12, 4) == 0xFFFFFFFF, "age is NULL");
	ebuf_free(&out);
	ev_decoder_free(d);
}

static void
test_dead_letters(void)
{
	ev_decoder *d = ev_decoder_new(&pv_spec);
	char		reason[256];
	ev_msg		tomb = {NULL, 0, NULL, 0, 0, 1, -1, NULL};
	const char	bad_utf8[] = "{\"user_id\":1,\"page\":\"/\xff\xfe\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}";
	char		big[400];

	CHECK(ev_decode(d, &tomb, reason, sizeof(reason)) == EV_EMPTY, "tombstone: %s", reason);
	DECODES_AS("", EV_EMPTY, "is empty");
	DECODES_AS(" \n\t", EV_EMPTY, "only white space");
	DECODES_AS("{\"user_id\":", EV_NOT_JSON, "not JSON");
	DECODES_AS("hello", EV_NOT_JSON, "not JSON");
	DECODES_AS("[1,2]", EV_NOT_OBJECT, "an array");
	DECODES_AS("42", EV_NOT_OBJECT, "an integer");
	DECODES_AS("null", EV_NOT_OBJECT, "null");
	DECODES_AS("\"text\"", EV_NOT_OBJECT, "a string");
	/* \u0000 where the mapping does not look is no reason to refuse an event */
	DECODES_AS("{\"user_id\":1,\"note\":\"a\\u0000b\",\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_OK, "");
	CHECK(decode(d, bad_utf8, sizeof(bad_utf8) - 1, reason) == EV_INVALID_UTF8, "bad utf8: %s", reason);
	DECODES_AS("{\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_MISSING_FIELD, "\"user_id\" is missing");
	DECODES_AS("{\"user_id\":null,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_MISSING_FIELD, "is null");
	DECODES_AS("{\"user_id\":\"42\",\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_WRONG_TYPE, "must be an integer, not a string");
	DECODES_AS("{\"user_id\":4.5,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_WRONG_TYPE, "not a number with a fraction");
	DECODES_AS("{\"user_id\":1,\"page\":7,\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_WRONG_TYPE, "\"page\" must be a string");
	DECODES_AS("{\"user_id\":1,\"age\":70000,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_OUT_OF_RANGE, "out of range for smallint");
	DECODES_AS("{\"user_id\":99999999999999999999,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_OUT_OF_RANGE, "out of range");
	DECODES_AS("{\"user_id\":1,\"page\":\"/\",\"viewed_at\":\"yesterday\"}", EV_BAD_TIMESTAMP, "not an ISO 8601 timestamp");
	DECODES_AS("{\"user_id\":1,\"page\":\"/\",\"viewed_at\":\"2026-02-30T00:00:00Z\"}", EV_BAD_TIMESTAMP, "");
	DECODES_AS("{\"user_id\":1,\"page\":\"/a\\u0000b\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_WRONG_TYPE, "\\u0000");
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"user_id\":1}", 13);
	CHECK(decode(d, big, sizeof(big), reason) == EV_TOO_LARGE, "too large: %s", reason);
	CHECK(strstr(reason, "400 bytes") != NULL, "%s", reason);
	/* after all that, a good one still decodes */
	DECODES_AS("{\"user_id\":1,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}", EV_OK, "");
	ev_decoder_free(d);
}

static void
test_timestamps(void)
{
	const struct
	{
		const char *s;
		int64_t		us;			/* since 2000-01-01 UTC; INT64_MIN: invalid */
	}			cases[] = {
		{"2000-01-01T00:00:00Z", 0},
		{"2000-01-01 09:00:00+09:00", 0},
		{"2000-01-01T00:00:00.000001Z", 1},
		{"2000-01-01T00:00:00.0000005Z", 1},	/* rounded, as PostgreSQL does */
		{"2000-01-01T00:00:00.0000004Z", 0},
		{"1999-12-31T23:59:59-00:00", -1000000},
		{"2000-01-01T00:00", 0},	/* no seconds, no zone: UTC */
		{"2000-01-01T05:30:00+0530", 0},
		{"2000-01-01T05:00:00+05", 0},
		{"2024-02-29T12:00:00Z", INT64_C(762523200000000)},
		{"2026-11-28T10:15:00.123+09:00", INT64_C(849143700123000)},
		{"2023-02-29T00:00:00Z", INT64_MIN},
		{"2026-13-01T00:00:00Z", INT64_MIN},
		{"2026-11-28T24:00:00Z", INT64_MIN},
		{"2026-11-28T10:60:00Z", INT64_MIN},
		{"2026-11-28", INT64_MIN},
		{"2026-11-28T10:15:00.Z", INT64_MIN},
		{"2026-11-28T10:15:00+16:00", INT64_MIN},
		{"2026-11-28T10:15:00 junk", INT64_MIN},
		{"26-11-28T10:15:00Z", INT64_MIN},
		{"", INT64_MIN},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int64_t		us = 0;
		bool		ok = ev_parse_timestamptz(cases[i].s, strlen(cases[i].s), &us);

		if (cases[i].us == INT64_MIN)
			CHECK(!ok, "\"%s\" accepted as %lld", cases[i].s, (long long) us);
		else
			CHECK(ok && us == cases[i].us, "\"%s\": %s %lld, want %lld", cases[i].s,
				  ok ? "got" : "refused", (long long) us, (long long) cases[i].us);
	}
}

static void
test_names(void)
{
	ev_type		t;
	ev_source	s;

	CHECK(ev_type_from_name("timestamp with time zone", &t) && t == EV_TIMESTAMPTZ, "timestamptz");
	CHECK(ev_type_from_name("character varying", &t) && t == EV_TEXT, "varchar");
	CHECK(!ev_type_from_name("money", &t), "money");
	CHECK(ev_source_from_name("offset", &s) && s == EV_FROM_OFFSET, "offset");
	CHECK(!ev_source_from_name("headers", &s), "headers");
	CHECK(strcmp(ev_kind_name(EV_REJECTED), "rejected_by_target") == 0, "kind name");
}

static void
test_csv(void)
{
	ev_decoder *d = ev_decoder_new(&pv_spec);
	char		reason[256];
	ebuf		out;
	const char *ev = "{\"user_id\":7,\"age\":null,\"gender\":\"\",\"page\":\"/a,\\\"b\\\"\\nc 🍣\","
		"\"viewed_at\":\"2026-01-02T03:04:05.120+09:00\"}";

	ebuf_init(&out);
	CHECK(decode(d, ev, strlen(ev), reason) == EV_OK, "decodes: %s", reason);
	CHECK(ev_csv_header(&pv_spec, &out), "header");
	CHECK(ev_encode_csv(d, &out), "encodes");
	ebuf_putc(&out, '\0');
	/* NULL is empty, the empty string "", quotes doubled, newline kept */
	CHECK(strcmp(out.data,
				 "kafka_partition,kafka_offset,user_id,age,gender,page,viewed_at\n"
				 "3,42,7,,\"\",\"/a,\"\"b\"\"\nc 🍣\",2026-01-01 18:04:05.12+00\n") == 0,
		  "CSV record: [%s]", out.data);
	ebuf_free(&out);
	ev_decoder_free(d);
}

static void
test_format_timestamps(void)
{
	static const struct
	{
		const char *in;
		const char *out;
	}			cases[] = {
		{"2000-01-01T00:00:00Z", "2000-01-01 00:00:00+00"},
		{"1999-12-31T23:59:59.999999Z", "1999-12-31 23:59:59.999999+00"},
		{"1970-01-01T00:00:00.5+00:00", "1970-01-01 00:00:00.5+00"},
		{"2024-02-29T12:00:00.000001-01:30", "2024-02-29 13:30:00.000001+00"},
		{"9999-12-31T23:59:59Z", "9999-12-31 23:59:59+00"},
		{"0001-01-01T00:00:00+01:00", "0001-12-31 23:00:00+00 BC"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int64_t		us;
		char		buf[EV_TIMESTAMP_LEN];

		CHECK(ev_parse_timestamptz(cases[i].in, strlen(cases[i].in), &us), "parses %s", cases[i].in);
		ev_format_timestamptz(us, buf);
		CHECK(strcmp(buf, cases[i].out) == 0, "%s: got %s, want %s", cases[i].in, buf, cases[i].out);
	}
}

/* the fast path and jansson agree, on what the fast path takes and what it leaves */
static void
test_fast_path_agrees(void)
{
	static const char *const events[] = {
		"{\"user_id\":1,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		" { \"user_id\" : -0 , \"page\" : \"/\" , \"viewed_at\" : \"2026-01-01 00:00Z\" } ",
		"{\"user_id\":1,\"user_id\":2,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":1,\"page\":\"\\u00e9\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":1.0,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":123456789012345678901,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":1,\"age\":32768,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":1,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\",\"x\":{\"y\":[1,2]}}",
		"{\"user_id\":1,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"} x",
		"{\"user_id\":01,\"page\":\"/\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":1,\"page\":null,\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":1,\"page\":\"\xff\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"user_id\":1,\"page\":\"a\tb\",\"viewed_at\":\"2026-01-01T00:00:00Z\"}",
	};
	ev_decoder *fast = ev_decoder_new(&pv_spec);
	ev_decoder *slow = ev_decoder_new(&pv_spec);

	ev_decoder_jansson_only(slow);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
	{
		char		r1[256],
					r2[256];
		ev_kind		k1 = decode(fast, events[i], strlen(events[i]), r1);
		ev_kind		k2 = decode(slow, events[i], strlen(events[i]), r2);
		ebuf		a,
					b;

		CHECK(k1 == k2, "%s: %s against jansson's %s", events[i], ev_kind_name(k1), ev_kind_name(k2));
		if (k1 != EV_OK || k2 != EV_OK)
		{
			CHECK(strcmp(r1, r2) == 0, "%s: reason \"%s\" against jansson's \"%s\"", events[i], r1, r2);
			continue;
		}
		ebuf_init(&a);
		ebuf_init(&b);
		ev_encode_csv(fast, &a);
		ev_encode_csv(slow, &b);
		CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "%s: same CSV", events[i]);
		ebuf_free(&a);
		ebuf_free(&b);
	}
	ev_decoder_free(fast);
	ev_decoder_free(slow);
}

int
main(void)
{
	test_csv();
	test_format_timestamps();
	test_fast_path_agrees();
	test_page_view();
	test_dead_letters();
	test_timestamps();
	test_names();
	printf("test_event_decode: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
