/*
 * event_decode.c
 *	  JSON events into typed values and binary COPY tuples (see
 *	  event_decode.h).  Checks are strict: a JSON string is not a number, a
 *	  float is not an integer; what does not fit the column is a reason to
 *	  dead-letter the message, never a silent change of its value.
 */
#include "event_decode.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "copy_binary.h"
#include "csv_write.h"
#include "seterr.h"

#define POSTGRES_EPOCH_DAYS 10957	/* 2000-01-01 - 1970-01-01 */
#define POSTGRES_EPOCH_MS INT64_C(946684800000)
#define USECS_PER_SEC INT64_C(1000000)

typedef struct ev_value
{
	bool		isnull;
	int64_t		i;				/* integers, timestamps, booleans */
	double		d;
	const char *s;				/* text and jsonb: len bytes */
	size_t		len;
} ev_value;

struct ev_decoder
{
	const ev_spec *spec;
	json_t	   *root;			/* the last event; strings point into it */
	ev_value   *values;
	char	  **owned;			/* per field: malloc'd text (jsonb) */
	bool		jansson_only;	/* tests: no fast path */
};

static const struct
{
	const char *name;
	ev_type		type;
}			type_names[] = {
	{"smallint", EV_SMALLINT}, {"int2", EV_SMALLINT},
	{"integer", EV_INTEGER}, {"int", EV_INTEGER}, {"int4", EV_INTEGER},
	{"bigint", EV_BIGINT}, {"int8", EV_BIGINT},
	{"double precision", EV_DOUBLE}, {"float8", EV_DOUBLE},
	{"boolean", EV_BOOLEAN}, {"bool", EV_BOOLEAN},
	{"text", EV_TEXT}, {"character varying", EV_TEXT}, {"varchar", EV_TEXT},
	{"timestamp with time zone", EV_TIMESTAMPTZ}, {"timestamptz", EV_TIMESTAMPTZ},
	{"jsonb", EV_JSONB},
	{NULL, 0}
};

bool
ev_type_from_name(const char *name, ev_type *type)
{
	for (int i = 0; type_names[i].name; i++)
		if (strcmp(type_names[i].name, name) == 0)
		{
			*type = type_names[i].type;
			return true;
		}
	return false;
}

const char *
ev_type_name(ev_type type)
{
	for (int i = 0; type_names[i].name; i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return "?";
}

bool
ev_source_from_name(const char *name, ev_source *source)
{
	static const char *const names[] = {"json", "partition", "offset", "timestamp", "key", "topic"};

	for (int i = 0; i < (int) (sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(names[i], name) == 0)
		{
			*source = (ev_source) i;
			return true;
		}
	return false;
}

const char *
ev_kind_name(ev_kind kind)
{
	static const char *const names[] = {
		"ok", "empty", "too_large", "invalid_utf8", "not_json", "not_object",
		"missing_field", "wrong_type", "out_of_range", "bad_timestamp",
		"rejected_by_target"
	};

	return (unsigned) kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

ev_decoder *
ev_decoder_new(const ev_spec *spec)
{
	ev_decoder *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->spec = spec;
	d->values = calloc(spec->nfields > 0 ? spec->nfields : 1, sizeof(ev_value));
	d->owned = calloc(spec->nfields > 0 ? spec->nfields : 1, sizeof(char *));
	if (d->values == NULL || d->owned == NULL)
	{
		ev_decoder_free(d);
		return NULL;
	}
	return d;
}

static void
release(ev_decoder *d)
{
	for (int i = 0; i < d->spec->nfields; i++)
	{
		free(d->owned[i]);
		d->owned[i] = NULL;
	}
	if (d->root)
		json_decref(d->root);
	d->root = NULL;
}

void
ev_decoder_jansson_only(ev_decoder *d)
{
	d->jansson_only = true;
}

void
ev_decoder_free(ev_decoder *d)
{
	if (d == NULL)
		return;
	if (d->values && d->owned)
		release(d);
	free(d->values);
	free(d->owned);
	free(d);
}

/* utf8_valid: well-formed UTF-8 without NUL (RFC 3629: no surrogates, <= U+10FFFF) */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			n;
		uint32_t	cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (i + n >= len)
			return false;
		for (int k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
			(n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false;
		i += n + 1;
	}
	return true;
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
			return "an integer";
		case JSON_REAL:
			return "a number with a fraction";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
	}
	return "?";
}

static ev_kind
wrong_type(const ev_field *f, const char *want, const json_t *v,
		   char *reason, size_t reasonlen)
{
	seterr(reason, reasonlen, "field \"%s\" must be %s, not %s",
		   f->key, want, json_kind(v));
	return EV_WRONG_TYPE;
}

static ev_kind
decode_json_field(ev_decoder *d, int i, char *reason, size_t reasonlen)
{
	const ev_field *f = &d->spec->fields[i];
	ev_value   *val = &d->values[i];
	json_t	   *v = json_object_get(d->root, f->key);

	if (v == NULL || json_is_null(v))
	{
		if (f->required)
		{
			seterr(reason, reasonlen, v ? "required field \"%s\" is null" :
				   "required field \"%s\" is missing", f->key);
			return EV_MISSING_FIELD;
		}
		val->isnull = true;
		return EV_OK;
	}
	switch (f->type)
	{
		case EV_SMALLINT:
		case EV_INTEGER:
		case EV_BIGINT:
			{
				json_int_t	n;
				int64_t		lo = f->type == EV_SMALLINT ? INT16_MIN :
					f->type == EV_INTEGER ? INT32_MIN : INT64_MIN;
				int64_t		hi = f->type == EV_SMALLINT ? INT16_MAX :
					f->type == EV_INTEGER ? INT32_MAX : INT64_MAX;

				if (!json_is_integer(v))
					return wrong_type(f, "an integer", v, reason, reasonlen);
				n = json_integer_value(v);
				if (n < lo || n > hi)
				{
					seterr(reason, reasonlen, "field \"%s\" = %lld is out of range for %s",
						   f->key, (long long) n, ev_type_name(f->type));
					return EV_OUT_OF_RANGE;
				}
				val->i = n;
				break;
			}
		case EV_DOUBLE:
			if (!json_is_number(v))
				return wrong_type(f, "a number", v, reason, reasonlen);
			val->d = json_number_value(v);
			break;
		case EV_BOOLEAN:
			if (!json_is_boolean(v))
				return wrong_type(f, "true or false", v, reason, reasonlen);
			val->i = json_is_true(v);
			break;
		case EV_TEXT:
			if (!json_is_string(v))
				return wrong_type(f, "a string", v, reason, reasonlen);
			val->s = json_string_value(v);
			val->len = json_string_length(v);
			if (memchr(val->s, '\0', val->len) != NULL)
			{
				seterr(reason, reasonlen, "field \"%s\" holds \\u0000, which PostgreSQL text cannot store",
					   f->key);
				return EV_WRONG_TYPE;
			}
			break;
		case EV_TIMESTAMPTZ:
			if (!json_is_string(v))
				return wrong_type(f, "a timestamp string", v, reason, reasonlen);
			if (!ev_parse_timestamptz(json_string_value(v), json_string_length(v), &val->i))
			{
				seterr(reason, reasonlen, "field \"%s\" = \"%.64s\" is not an ISO 8601 timestamp",
					   f->key, json_string_value(v));
				return EV_BAD_TIMESTAMP;
			}
			break;
		case EV_JSONB:
			d->owned[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			if (d->owned[i] == NULL)
			{
				seterr(reason, reasonlen, "out of memory encoding field \"%s\"", f->key);
				return EV_NOT_JSON;
			}
			val->s = d->owned[i];
			val->len = strlen(d->owned[i]);
			if (strstr(val->s, "\\u0000") != NULL)
			{
				seterr(reason, reasonlen, "field \"%s\" holds \\u0000, which PostgreSQL jsonb cannot store",
					   f->key);
				return EV_WRONG_TYPE;
			}
			break;
	}
	val->isnull = false;
	return EV_OK;
}

/* ------------------------------------------------------------ fast path */

/*
 * The fast path decodes the common event, a flat object whose strings have
 * no escapes and whose numbers are integers of at most 18 digits, without
 * building a jansson tree.  It accepts an event only when jansson would
 * accept it with the same values; anything else (escapes, fractions,
 * nested values, a wanted key twice, any error at all) returns false and
 * the event goes the jansson way, which also words every dead letter's
 * reason.  The fuzz target checks the two agree.
 */

typedef enum fj_kind
{
	FJ_STRING, FJ_INT, FJ_TRUE, FJ_FALSE, FJ_NULL
} fj_kind;

static inline const unsigned char *
fj_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* fj_string: p at the opening quote; a plain string (no escape, no control) */
static inline const unsigned char *
fj_string(const unsigned char *p, const unsigned char *end,
		  const unsigned char **s, size_t *len)
{
	const unsigned char *q = ++p;
	bool		ascii = true;

	while (q < end && *q != '"')
	{
		if (*q == '\\' || *q < 0x20)
			return NULL;
		ascii &= *q < 0x80;
		q++;
	}
	if (q == end || (!ascii && !utf8_valid(p, (size_t) (q - p))))
		return NULL;
	*s = p;
	*len = (size_t) (q - p);
	return q + 1;
}

static bool
fast_decode(ev_decoder *d, const ev_msg *m)
{
	const ev_spec *spec = d->spec;
	const unsigned char *p = m->payload;
	const unsigned char *end = p + m->len;
	uint64_t	seen = 0;

	if (spec->nfields > 64)
		return false;
	p = fj_ws(p, end);
	if (p == end || *p++ != '{')
		return false;
	p = fj_ws(p, end);
	if (p < end && *p == '}')
		p++;
	else
		for (;;)
		{
			const unsigned char *key,
					   *sv = NULL;
			size_t		keylen,
						svlen = 0;
			fj_kind		kind;
			int64_t		n = 0;

			if (p == end || *p != '"' || (p = fj_string(p, end, &key, &keylen)) == NULL)
				return false;
			p = fj_ws(p, end);
			if (p == end || *p++ != ':')
				return false;
			p = fj_ws(p, end);
			if (p == end)
				return false;
			if (*p == '"')
			{
				if ((p = fj_string(p, end, &sv, &svlen)) == NULL)
					return false;
				kind = FJ_STRING;
			}
			else if (*p == '-' || (*p >= '0' && *p <= '9'))
			{
				bool		neg = *p == '-';
				int			digits = 0;

				if (neg)
					p++;
				if (p == end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end &&
														  p[1] >= '0' && p[1] <= '9'))
					return false;
				while (p < end && *p >= '0' && *p <= '9')
				{
					if (++digits > 18)
						return false;
					n = n * 10 + (*p++ - '0');
				}
				if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
					return false;
				n = neg ? -n : n;
				kind = FJ_INT;
			}
			else if (end - p >= 4 && memcmp(p, "true", 4) == 0)
				p += 4, kind = FJ_TRUE;
			else if (end - p >= 5 && memcmp(p, "false", 5) == 0)
				p += 5, kind = FJ_FALSE;
			else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
				p += 4, kind = FJ_NULL;
			else
				return false;

			for (int i = 0; i < spec->nfields; i++)
			{
				const ev_field *f = &spec->fields[i];
				ev_value   *val = &d->values[i];

				if (f->source != EV_FROM_JSON || strlen(f->key) != keylen ||
					memcmp(f->key, key, keylen) != 0)
					continue;
				if (seen & (UINT64_C(1) << i))
					return false;	/* a wanted key twice: the last wins */
				seen |= UINT64_C(1) << i;
				val->isnull = false;
				if (kind == FJ_NULL)
				{
					if (f->required)
						return false;
					val->isnull = true;
					continue;
				}
				switch (f->type)
				{
					case EV_SMALLINT:
					case EV_INTEGER:
					case EV_BIGINT:
						if (kind != FJ_INT ||
							(f->type == EV_SMALLINT && (n < INT16_MIN || n > INT16_MAX)) ||
							(f->type == EV_INTEGER && (n < INT32_MIN || n > INT32_MAX)))
							return false;
						val->i = n;
						break;
					case EV_DOUBLE:
						if (kind != FJ_INT)
							return false;
						val->d = (double) n;
						break;
					case EV_BOOLEAN:
						if (kind != FJ_TRUE && kind != FJ_FALSE)
							return false;
						val->i = kind == FJ_TRUE;
						break;
					case EV_TEXT:
						if (kind != FJ_STRING)
							return false;
						val->s = (const char *) sv;
						val->len = svlen;
						break;
					case EV_TIMESTAMPTZ:
						if (kind != FJ_STRING ||
							!ev_parse_timestamptz((const char *) sv, svlen, &val->i))
							return false;
						break;
					default:
						return false;	/* jsonb: jansson formats it */
				}
			}
			p = fj_ws(p, end);
			if (p == end)
				return false;
			if (*p == '}')
			{
				p++;
				break;
			}
			if (*p++ != ',')
				return false;
			p = fj_ws(p, end);
		}
	if (fj_ws(p, end) != end)
		return false;
	/* absent fields: NULL, or a dead letter the jansson way */
	for (int i = 0; i < spec->nfields; i++)
		if (spec->fields[i].source == EV_FROM_JSON && !(seen & (UINT64_C(1) << i)))
		{
			if (spec->fields[i].required)
				return false;
			d->values[i].isnull = true;
		}
	return true;
}

/* json_blank: nothing but JSON white space (or nothing at all)? */
static bool
json_blank(const void *p, size_t len)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

ev_kind
ev_decode(ev_decoder *d, const ev_msg *m, char *reason, size_t reasonlen)
{
	const ev_spec *spec = d->spec;
	json_error_t jerr;
	bool		need_json = false;

	release(d);
	if (m->payload == NULL)
	{
		seterr(reason, reasonlen, "the message has no value");
		return EV_EMPTY;
	}
	for (int i = 0; i < spec->nfields; i++)
		need_json |= spec->fields[i].source == EV_FROM_JSON;
	if (need_json && json_blank(m->payload, m->len))
	{
		seterr(reason, reasonlen, m->len ? "the message holds only white space" : "the message is empty");
		return EV_EMPTY;
	}
	if (m->len > spec->max_bytes)
	{
		seterr(reason, reasonlen, "the message is %zu bytes, more than the stream's limit of %zu",
			   m->len, spec->max_bytes);
		return EV_TOO_LARGE;
	}
	if (need_json && (d->jansson_only || !fast_decode(d, m)))
	{
		/*
		 * Any JSON value parses (null or a number is then "not an object",
		 * not "not JSON"), and \u0000 too: only a field ecsync stores
		 * refuses it (PostgreSQL text cannot hold it); in a key the mapping
		 * ignores it does no harm.  jansson nests at most 2048 deep.
		 */
		d->root = json_loadb(m->payload, m->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		if (d->root == NULL)
		{
			switch (json_error_code(&jerr))
			{
				case json_error_invalid_utf8:
					seterr(reason, reasonlen, "not valid UTF-8 at byte %d", jerr.position);
					return EV_INVALID_UTF8;
				case json_error_null_character:
					seterr(reason, reasonlen, "a string holds \\u0000, which PostgreSQL text cannot store");
					return EV_WRONG_TYPE;
				case json_error_numeric_overflow:
					seterr(reason, reasonlen, "a number is out of range at byte %d", jerr.position);
					return EV_OUT_OF_RANGE;
				default:
					/* jansson checks UTF-8 as it goes; say so even after a syntax error */
					if (!utf8_valid(m->payload, m->len))
					{
						seterr(reason, reasonlen, "not valid UTF-8");
						return EV_INVALID_UTF8;
					}
					seterr(reason, reasonlen, "not JSON: %s at byte %d", jerr.text, jerr.position);
					return EV_NOT_JSON;
			}
		}
		if (!json_is_object(d->root))
		{
			seterr(reason, reasonlen, "not a JSON object but %s", json_kind(d->root));
			return EV_NOT_OBJECT;
		}
	}

	for (int i = 0; i < spec->nfields; i++)
	{
		const ev_field *f = &spec->fields[i];
		ev_value   *val = &d->values[i];
		ev_kind		k;

		if (f->source == EV_FROM_JSON && d->root == NULL)
			continue;			/* decoded by the fast path */
		val->isnull = false;
		switch (f->source)
		{
			case EV_FROM_JSON:
				if ((k = decode_json_field(d, i, reason, reasonlen)) != EV_OK)
					return k;
				break;
			case EV_FROM_PARTITION:
				val->i = m->partition;
				break;
			case EV_FROM_OFFSET:
				val->i = m->offset;
				break;
			case EV_FROM_TIMESTAMP:
				val->isnull = m->timestamp_ms < 0;
				val->i = (m->timestamp_ms - POSTGRES_EPOCH_MS) * 1000;
				break;
			case EV_FROM_TOPIC:
				val->isnull = m->topic == NULL;
				val->s = m->topic;
				val->len = m->topic ? strlen(m->topic) : 0;
				break;
			case EV_FROM_KEY:
				val->isnull = m->key == NULL;
				if (m->key && !utf8_valid(m->key, m->keylen))
				{
					seterr(reason, reasonlen, "the message key is not valid UTF-8 text");
					return EV_INVALID_UTF8;
				}
				val->s = m->key;
				val->len = m->keylen;
				break;
		}
	}
	return EV_OK;
}

bool
ev_encode_binary(ev_decoder *d, ebuf *out)
{
	const ev_spec *spec = d->spec;

	if (!cb_row_start(out, spec->nfields))
		return false;
	for (int i = 0; i < spec->nfields; i++)
	{
		const ev_value *v = &d->values[i];
		ev_type		t = spec->fields[i].type;
		bool		ok;

		if (v->isnull)
		{
			if (!cb_null(out))
				return false;
			continue;
		}
		/* what source gives a type it was not built for: partitions are integers */
		if (spec->fields[i].source == EV_FROM_PARTITION || spec->fields[i].source == EV_FROM_OFFSET)
			t = t == EV_SMALLINT ? EV_INTEGER : t;
		switch (t)
		{
			case EV_SMALLINT:
				ok = cb_put32(out, 2) && cb_put16(out, (uint16_t) (int16_t) v->i);
				break;
			case EV_INTEGER:
				ok = cb_put32(out, 4) && cb_put32(out, (uint32_t) (int32_t) v->i);
				break;
			case EV_BIGINT:
			case EV_TIMESTAMPTZ:
				ok = cb_put32(out, 8) && cb_put64(out, (uint64_t) v->i);
				break;
			case EV_DOUBLE:
				{
					uint64_t	bits;

					memcpy(&bits, &v->d, sizeof(bits));
					ok = cb_put32(out, 8) && cb_put64(out, bits);
					break;
				}
			case EV_BOOLEAN:
				ok = cb_put32(out, 1) && ebuf_putc(out, v->i ? 1 : 0);
				break;
			case EV_TEXT:
				ok = cb_put32(out, (uint32_t) v->len) && ebuf_append(out, v->s, v->len);
				break;
			case EV_JSONB:
				ok = cb_put32(out, (uint32_t) v->len + 1) && ebuf_putc(out, 1) &&
					ebuf_append(out, v->s, v->len);
				break;
			default:
				ok = false;
		}
		if (!ok)
			return false;
	}
	return true;
}

size_t
ev_format_timestamptz(int64_t usecs, char *buf)
{
	int64_t		days = usecs / (86400 * USECS_PER_SEC);
	int64_t		rest = usecs % (86400 * USECS_PER_SEC);
	int64_t		y;
	int			m,
				d,
				n;

	if (rest < 0)
	{
		rest += 86400 * USECS_PER_SEC;
		days--;
	}
	cb_civil_from_days(days + POSTGRES_EPOCH_DAYS, &y, &m, &d);
	n = snprintf(buf, EV_TIMESTAMP_LEN, "%04lld-%02d-%02d %02d:%02d:%02d",
				 (long long) (y > 0 ? y : 1 - y), m, d,
				 (int) (rest / (3600 * USECS_PER_SEC)),
				 (int) (rest / (60 * USECS_PER_SEC) % 60),
				 (int) (rest / USECS_PER_SEC % 60));
	if (rest % USECS_PER_SEC)
	{
		int			frac = (int) (rest % USECS_PER_SEC);
		int			digits = 6;

		while (frac % 10 == 0)
		{
			frac /= 10;
			digits--;
		}
		n += snprintf(buf + n, EV_TIMESTAMP_LEN - n, ".%0*d", digits, frac);
	}
	n += snprintf(buf + n, EV_TIMESTAMP_LEN - n, "+00%s", y > 0 ? "" : " BC");
	return (size_t) n;
}

bool
ev_value_int(ev_decoder *d, int field, int64_t *value)
{
	if (field < 0 || field >= d->spec->nfields || d->values[field].isnull)
		return false;
	*value = d->values[field].i;
	return true;
}

bool
ev_csv_header(const ev_spec *spec, ebuf *out)
{
	for (int i = 0; i < spec->nfields; i++)
		if ((i > 0 && !ebuf_putc(out, ',')) ||
			!csv_append(out, spec->fields[i].column, strlen(spec->fields[i].column)))
			return false;
	return ebuf_putc(out, '\n');
}

bool
ev_encode_csv(ev_decoder *d, ebuf *out)
{
	const ev_spec *spec = d->spec;

	for (int i = 0; i < spec->nfields; i++)
	{
		const ev_value *v = &d->values[i];
		char		num[EV_TIMESTAMP_LEN];
		int			n;
		bool		ok;

		if (i > 0 && !ebuf_putc(out, ','))
			return false;
		if (v->isnull)
			continue;			/* NULL: an empty unquoted field */
		switch (spec->fields[i].type)
		{
			case EV_SMALLINT:
			case EV_INTEGER:
			case EV_BIGINT:
				n = snprintf(num, sizeof(num), "%lld", (long long) v->i);
				ok = ebuf_append(out, num, (size_t) n);
				break;
			case EV_DOUBLE:
				n = snprintf(num, sizeof(num), "%.17g", v->d);
				ok = ebuf_append(out, num, (size_t) n);
				break;
			case EV_BOOLEAN:
				ok = ebuf_putc(out, v->i ? 't' : 'f');
				break;
			case EV_TIMESTAMPTZ:
				ok = ebuf_append(out, num, ev_format_timestamptz(v->i, num));
				break;
			case EV_TEXT:
			case EV_JSONB:
				ok = csv_append(out, v->s, v->len);
				break;
			default:
				ok = false;
		}
		if (!ok)
			return false;
	}
	return ebuf_putc(out, '\n');
}

/* num reads exactly n digits at *p and advances; -1 if they are not digits */
static int
num(const char **p, const char *end, int n)
{
	int			v = 0;

	if (end - *p < n)
		return -1;
	for (int i = 0; i < n; i++)
	{
		char		c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static int
days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

bool
ev_parse_timestamptz(const char *s, size_t len, int64_t *usecs)
{
	const char *p = s;
	const char *end = s + len;
	int			y, mo, d, h, mi, sec = 0;
	int64_t		frac = 0;
	int			zone = 0;		/* seconds east of UTC */

	if ((y = num(&p, end, 4)) < 1 || p == end || *p++ != '-' ||
		(mo = num(&p, end, 2)) < 1 || mo > 12 || p == end || *p++ != '-' ||
		(d = num(&p, end, 2)) < 1 || d > days_in_month(y, mo))
		return false;
	if (p == end || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if ((h = num(&p, end, 2)) < 0 || h > 23 || p == end || *p++ != ':' ||
		(mi = num(&p, end, 2)) < 0 || mi > 59)
		return false;
	if (p < end && *p == ':')
	{
		p++;
		if ((sec = num(&p, end, 2)) < 0 || sec > 59)
			return false;
		if (p < end && *p == '.')
		{
			int			digits = 0;
			bool		round_up = false;

			p++;
			while (p < end && *p >= '0' && *p <= '9')
			{
				if (digits < 6)
					frac = frac * 10 + (*p - '0');
				else if (digits == 6)
					round_up = *p >= '5';
				digits++;
				p++;
			}
			if (digits == 0)
				return false;
			for (int k = digits; k < 6; k++)
				frac *= 10;
			frac += round_up;
		}
	}
	if (p < end)
	{
		if ((*p == 'Z' || *p == 'z') && p + 1 == end)
			p++;
		else if (*p == '+' || *p == '-')
		{
			int			sign = *p++ == '-' ? -1 : 1;
			int			zh, zm = 0;

			if ((zh = num(&p, end, 2)) < 0 || zh > 15)
				return false;
			if (p < end && *p == ':')
				p++;
			if (p < end && (zm = num(&p, end, 2)) < 0)
				return false;
			if (zm > 59)
				return false;
			zone = sign * (zh * 3600 + zm * 60);
		}
		if (p != end)
			return false;
	}
	*usecs = ((cb_days_from_civil(y, mo, d) - POSTGRES_EPOCH_DAYS) * 86400 +
			  h * 3600 + mi * 60 + sec - zone) * USECS_PER_SEC + frac;
	return true;
}
