/*
 * fuzz_event_decode.c
 *	  libFuzzer target for the event decoder (common/event_decode.c), which
 *	  reads untrusted Kafka messages inside a PostgreSQL backend: any bytes
 *	  must give a row or a reason, never a crash, a leak or undefined
 *	  behaviour.  The spec uses every type and source, so that every
 *	  branch sees fuzzed input.  The fast path and jansson's must agree:
 *	  the same kind, and for a row the same binary COPY and CSV bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_decode.h"

static ev_field fields[] = {
	{"p", NULL, EV_INTEGER, EV_FROM_PARTITION, false},
	{"o", NULL, EV_BIGINT, EV_FROM_OFFSET, false},
	{"ts", NULL, EV_TIMESTAMPTZ, EV_FROM_TIMESTAMP, false},
	{"k", NULL, EV_TEXT, EV_FROM_KEY, false},
	{"user_id", "user_id", EV_BIGINT, EV_FROM_JSON, true},
	{"age", "age", EV_SMALLINT, EV_FROM_JSON, false},
	{"n", "n", EV_INTEGER, EV_FROM_JSON, false},
	{"gender", "gender", EV_TEXT, EV_FROM_JSON, false},
	{"page", "page", EV_TEXT, EV_FROM_JSON, false},
	{"viewed_at", "viewed_at", EV_TIMESTAMPTZ, EV_FROM_JSON, false},
	{"score", "score", EV_DOUBLE, EV_FROM_JSON, false},
	{"ok", "ok", EV_BOOLEAN, EV_FROM_JSON, false},
	{"extra", "extra", EV_JSONB, EV_FROM_JSON, false},
};
static ev_spec spec = {sizeof(fields) / sizeof(fields[0]), fields, 4096};

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ev_decoder *d;
	static ev_decoder *slow;
	char		reason[512],
				slow_reason[512];
	ev_kind		kind;
	int64_t		us;
	/* the first bytes double as the message key, as a key may be anything */
	ev_msg		m = {data, size, data, size < 8 ? size : 8, 3, 42, 1795791600000, "t"};

	if (d == NULL)
	{
		d = ev_decoder_new(&spec);
		slow = ev_decoder_new(&spec);
		ev_decoder_jansson_only(slow);
	}
	kind = ev_decode(d, &m, reason, sizeof(reason));
	if (ev_decode(slow, &m, slow_reason, sizeof(slow_reason)) != kind)
		abort();				/* the fast path disagrees with jansson */
	if (kind == EV_OK)
	{
		ebuf		out,
					slow_out;

		ebuf_init(&out);
		ebuf_init(&slow_out);
		if (!ev_encode_binary(d, &out) || !ev_encode_binary(slow, &slow_out) ||
			out.len != slow_out.len || memcmp(out.data, slow_out.data, out.len) != 0)
			abort();
		ebuf_reset(&out);
		ebuf_reset(&slow_out);
		if (!ev_encode_csv(d, &out) || !ev_encode_csv(slow, &slow_out) ||
			out.len != slow_out.len || memcmp(out.data, slow_out.data, out.len) != 0)
			abort();
		ebuf_free(&out);
		ebuf_free(&slow_out);
	}
	else if (strlen(reason) == 0)
		abort();				/* a dead letter always says why */
	(void) ev_parse_timestamptz((const char *) data, size, &us);
	return 0;
}
