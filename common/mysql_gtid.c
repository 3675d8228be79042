/*
 * mysql_gtid.c
 *	  MySQL's GTIDs and GTID sets (see mysql_gtid.h).  The formats are
 *	  MySQL's:
 *
 *	  - GTID_LOG_EVENT: libs/mysql/binlog/event/control_events.cpp
 *	    (Gtid_event::Gtid_event): flags, uuid, gno, then optional logical
 *	    clocks, timestamps, transaction length, server versions and
 *	    commit group ticket, each read only when bytes are left.
 *	  - GTID_TAGGED_LOG_EVENT: the same fields (control_events.h,
 *	    Gtid_event::define_fields) in the mysql::serialization format
 *	    (libs/mysql/serialization: serializer_impl.hpp,
 *	    serializer_default_impl.hpp, variable_length_integers.h,
 *	    primitive_type_codec.h): the format version (a field id, 1), the
 *	    size of the whole message, the last non-ignorable field id, then
 *	    for each field present its id and its value; every integer is
 *	    variable-length (the uuid too: 16 one-byte integers), a string is
 *	    its length then its bytes.
 *	  - binary sets: sql/rpl_gtid_set.cc (Gtid_set::encode,
 *	    add_gtid_encoding, encode_nsids_format, decode_nsids_format),
 *	    libs/mysql/gtid/tsid.cpp and tag.cpp.
 *	  - text sets: MySQL 9.7's parser,
 *	    libs/mysql/gtids/strconv/gtid_text_format_conv.h and
 *	    libs/mysql/sets/strconv/decode.h (whitespace as
 *	    libs/mysql/strconv/decode/whitespace.h, tags as
 *	    libs/mysql/gtids/tag.h, uuids as MySQL reads them), and its
 *	    output (encode_impl there, and Gtid_set::to_string).
 *
 *	  A set keeps, for each (uuid, tag), a sorted array of disjoint,
 *	  non-adjacent inclusive intervals; the (uuid, tag) entries are sorted
 *	  as MySQL orders them (uuid bytes, then tag, "" first).  A worker adds
 *	  and looks up one GTID a transaction, nearly always the next gno of
 *	  the entry it used last: that entry is remembered, and the gno just
 *	  above an entry's last interval extends it in place, so the steady
 *	  state is O(1) without allocation (arrays grow by doubling).
 */
#include "mysql_gtid.h"

#include "seterr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MySQL's GNO_END: one past the largest gno (gnos are 1 .. 2^63 - 2) */
#define GNO_END		((uint64_t) INT64_MAX)

/* the event types */
enum
{
	EV_GTID = 33, EV_ANONYMOUS_GTID = 34, EV_GTID_TAGGED = 42
};

typedef struct mg_interval
{
	uint64_t	start;			/* inclusive */
	uint64_t	end;			/* inclusive */
} mg_interval;

/* the GTIDs of one (uuid, tag) */
typedef struct mg_tsid
{
	uint8_t		uuid[16];
	char		tag[MG_TAG_MAX + 1];
	size_t		n;				/* intervals, always at least one */
	size_t		cap;
	mg_interval *iv;			/* ascending, neither overlapping nor adjacent */
} mg_tsid;

struct mg_set
{
	mg_tsid    *tsids;			/* in MySQL's order */
	size_t		n;
	size_t		cap;
	size_t		hint;			/* the entry mg_set_add used last */
};

/* ---------------------------------------------------------------- helpers */

static uint64_t
rd_le(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void
wr_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

/* MySQL's tag characters (libs/mysql/gtids/tag.h) */
static bool
tag_first_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool
tag_char(unsigned char ch)
{
	return tag_first_char(ch) || (ch >= '0' && ch <= '9');
}

static char
lower(unsigned char ch)
{
	return (char) (ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
}

/*
 * tag_copy checks that (s, n) is a tag ("" or [a-zA-Z_][a-zA-Z0-9_]*, at
 * most MG_TAG_MAX characters) and copies it, lower-cased, into dst
 */
static bool
tag_copy(char *dst, const uint8_t *s, size_t n)
{
	if (n > MG_TAG_MAX || (n > 0 && !tag_first_char(s[0])))
		return false;
	for (size_t i = 0; i < n; i++)
	{
		if (!tag_char(s[i]))
			return false;
		dst[i] = lower(s[i]);
	}
	dst[n] = '\0';
	return true;
}

/*
 * varlen reads one of mysql::serialization's variable-length unsigned
 * integers (read_varlen_bytes_unsigned): the first byte's trailing ones
 * plus one give its size in bytes (1 to 9), the bits after them and the
 * following bytes, little-endian, the value.  0 when the bytes run out or
 * the value is above max.
 */
static size_t
varlen(const uint8_t *p, size_t avail, uint64_t max, uint64_t *v)
{
	uint8_t		first;
	size_t		n = 1;
	uint64_t	val;

	if (avail == 0)
		return 0;
	first = p[0];
	while (n < 9 && (first & (1u << (n - 1))) != 0)
		n++;
	if (n > avail)
		return 0;
	val = n < 8 ? (uint64_t) (first >> n) : 0;
	if (n > 1)
	{
		/* 8 - n bits in the first byte, but all 64 in the other 8 for n = 9 */
		int			shift = n == 9 ? 0 : 8 - (int) n;

		val |= rd_le(p + 1, (int) n - 1) << shift;
	}
	if (val > max)
		return 0;
	*v = val;
	return n;
}

/* varlen_signed: the signed form, the sign in the lowest bit */
static size_t
varlen_signed(const uint8_t *p, size_t avail, int64_t *v)
{
	uint64_t	u;
	size_t		n = varlen(p, avail, UINT64_MAX, &u);

	if (n > 0)
		*v = (int64_t) ((u >> 1) ^ (0 - (u & 1)));
	return n;
}

static void
uuid_text(const uint8_t *uuid, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char	   *o = out;

	for (int i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[uuid[i] >> 4];
		*o++ = hex[uuid[i] & 15];
	}
	*o = '\0';
}

/* ------------------------------------------------------------- one GTID */

/*
 * gtid_tail checks the optional fields after a GTID_LOG_EVENT's gno, as
 * Gtid_event::Gtid_event reads them: each group only when a byte of it is
 * left, but then whole
 */
static bool
gtid_tail(const uint8_t *p, size_t len)
{
	size_t		pos = 0;
	uint64_t	ts;

	if (len - pos < 1)
		return true;
	if (p[pos++] != 2)			/* LOGICAL_TIMESTAMP_TYPECODE; older ones ignored */
		return true;
	if (len - pos < 16)			/* last_committed, sequence_number */
		return false;
	pos += 16;
	if (len - pos < 7)
		return true;
	ts = rd_le(p + pos, 7);
	pos += 7;
	if (ts & ((uint64_t) 1 << 55))
	{
		/* original_commit_timestamp follows */
		if (len - pos < 7)
			return false;
		pos += 7;
	}
	if (len - pos < 1)
		return true;
	/* transaction_length: net_field_length_ll */
	{
		uint8_t		b = p[pos];
		size_t		n = b <= 251 ? 1 : b == 252 ? 3 : b == 253 ? 4 : 9;

		if (len - pos < n)
			return false;
		pos += n;
	}
	/* immediate_server_version, with original_server_version if flagged */
	if (len - pos >= 4 && (rd_le(p + pos, 4) & ((uint64_t) 1 << 31)) && len - pos < 8)
		return false;
	/* then commit_group_ticket when 8 bytes are left; nothing after is read */
	return true;
}

static int
parse_untagged(int type, const uint8_t *body, size_t len, mg_gtid *g, char *err, size_t errlen)
{
	uint64_t	gno;

	if (len < 1 + 16 + 8)
	{
		seterr(err, errlen, "malformed GTID event: %zu bytes, not even flags, uuid and gno", len);
		return -1;
	}
	gno = rd_le(body + 17, 8);
	if (type == EV_ANONYMOUS_GTID ? gno != 0 : gno >= GNO_END)
	{
		seterr(err, errlen, "malformed GTID event: gno %llu out of range", (unsigned long long) gno);
		return -1;
	}
	if (!gtid_tail(body + 25, len - 25))
	{
		seterr(err, errlen, "malformed GTID event: cut short after the gno");
		return -1;
	}
	if (gno == 0)
		return 0;				/* anonymous */
	memcpy(g->uuid, body + 1, 16);
	g->tag[0] = '\0';
	g->gno = gno;
	return 1;
}

/* the fields of a GTID_TAGGED_LOG_EVENT, in their id order */
enum
{
	F_FLAGS, F_UUID, F_GNO, F_TAG, F_LAST_COMMITTED, F_SEQUENCE_NUMBER,
	F_IMMEDIATE_TS, F_ORIGINAL_TS, F_TRX_LENGTH, F_IMMEDIATE_VERSION,
	F_ORIGINAL_VERSION, F_GROUP_TICKET, F_COUNT
};

static int
bad_tagged(char *err, size_t errlen, const char *what, size_t pos)
{
	seterr(err, errlen, "malformed GTID_TAGGED_LOG_EVENT: %s at byte %zu", what, pos);
	return -1;
}

static int
parse_tagged(const uint8_t *body, size_t len, mg_gtid *g, char *err, size_t errlen)
{
	size_t		pos = 0,
				n,
				end;
	uint64_t	version,
				size,
				last_non_ignorable;
	bool		have_uuid = false,
				have_gno = false;
	int64_t		gno = 0;
	mg_gtid		out;

	memset(&out, 0, sizeof(out));
	/* the message's metadata (decode_serializable_metadata) */
	if ((n = varlen(body, len, UINT64_MAX, &version)) == 0)
		return bad_tagged(err, errlen, "no format version", pos);
	if (version != 1)
		return bad_tagged(err, errlen, "unknown serialization format version", pos);
	pos += n;
	if ((n = varlen(body + pos, len - pos, UINT64_MAX, &size)) == 0)
		return bad_tagged(err, errlen, "no message size", pos);
	pos += n;
	if ((n = varlen(body + pos, len - pos, UINT64_MAX, &last_non_ignorable)) == 0)
		return bad_tagged(err, errlen, "no last non-ignorable field id", pos);
	pos += n;
	if (size > len || size < pos)
		return bad_tagged(err, errlen, "message size out of range", 0);
	if (last_non_ignorable > F_COUNT)
		return bad_tagged(err, errlen, "unknown non-ignorable fields", 0);
	end = (size_t) size;

	/*
	 * Each field: its id, if the next id is this field's (a field missing
	 * from the message is skipped: MySQL leaves its default), then its
	 * value.  Nothing may run past the message; what a newer server may
	 * have added after the known fields is skipped, as MySQL does.
	 */
	for (int f = 0; f < F_COUNT && pos < end; f++)
	{
		uint64_t	id,
					u;
		int64_t		s;

		if ((n = varlen(body + pos, end - pos, UINT64_MAX, &id)) == 0)
			return bad_tagged(err, errlen, "bad field id", pos);
		if (id != (uint64_t) f)
			continue;
		pos += n;
		switch (f)
		{
			case F_FLAGS:
				n = varlen(body + pos, end - pos, UINT8_MAX, &u);
				break;
			case F_UUID:
				for (int i = 0; i < 16; i++)
				{
					if ((n = varlen(body + pos, end - pos, UINT8_MAX, &u)) == 0)
						return bad_tagged(err, errlen, "bad uuid", pos);
					out.uuid[i] = (uint8_t) u;
					pos += n;
				}
				have_uuid = true;
				n = 0;
				continue;
			case F_GNO:
				n = varlen_signed(body + pos, end - pos, &gno);
				have_gno = n > 0;
				break;
			case F_TAG:
				if ((n = varlen(body + pos, end - pos, UINT64_MAX, &u)) == 0)
					return bad_tagged(err, errlen, "bad tag length", pos);
				if (u > MG_TAG_MAX || u > end - pos - n)
					return bad_tagged(err, errlen, "tag length out of range", pos);
				if (!tag_copy(out.tag, body + pos + n, (size_t) u))
					return bad_tagged(err, errlen, "bad tag", pos + n);
				n += (size_t) u;
				break;
			case F_LAST_COMMITTED:
			case F_SEQUENCE_NUMBER:
				n = varlen_signed(body + pos, end - pos, &s);
				break;
			case F_IMMEDIATE_VERSION:
			case F_ORIGINAL_VERSION:
				n = varlen(body + pos, end - pos, UINT32_MAX, &u);
				break;
			default:
				n = varlen(body + pos, end - pos, UINT64_MAX, &u);
				break;
		}
		if (n == 0)
			return bad_tagged(err, errlen, "bad field value", pos);
		pos += n;
	}
	if (!have_uuid || !have_gno)
		return bad_tagged(err, errlen, have_uuid ? "no gno" : "no uuid", pos);
	if (gno < 1 || (uint64_t) gno >= GNO_END)
	{
		seterr(err, errlen, "malformed GTID_TAGGED_LOG_EVENT: gno %lld out of range", (long long) gno);
		return -1;
	}
	out.gno = (uint64_t) gno;
	*g = out;
	return 1;
}

int
mg_parse_gtid_event(int type, const uint8_t *body, size_t len, mg_gtid *g,
					char *err, size_t errlen)
{
	switch (type)
	{
		case EV_GTID:
		case EV_ANONYMOUS_GTID:
			return parse_untagged(type, body, len, g, err, errlen);
		case EV_GTID_TAGGED:
			return parse_tagged(body, len, g, err, errlen);
		default:
			seterr(err, errlen, "event type %d is not a GTID event", type);
			return -1;
	}
}

void
mg_gtid_text(const mg_gtid *g, char *buf, size_t len)
{
	char		uuid[37];
	size_t		taglen = strnlen(g->tag, MG_TAG_MAX);

	uuid_text(g->uuid, uuid);
	if (taglen > 0)
		snprintf(buf, len, "%s:%.*s:%llu", uuid, (int) taglen, g->tag, (unsigned long long) g->gno);
	else
		snprintf(buf, len, "%s:%llu", uuid, (unsigned long long) g->gno);
}

/* -------------------------------------------------------------- the sets */

mg_set *
mg_set_new(void)
{
	return calloc(1, sizeof(mg_set));
}

void
mg_set_free(mg_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->tsids[i].iv);
	free(s->tsids);
	free(s);
}

bool
mg_set_is_empty(const mg_set *s)
{
	return s->n == 0;			/* an entry has at least one interval */
}

static int
tsid_cmp(const mg_tsid *t, const uint8_t *uuid, const char *tag)
{
	int			c = memcmp(t->uuid, uuid, 16);

	return c != 0 ? c : strcmp(t->tag, tag);
}

/*
 * find_tsid looks for (uuid, tag): true with *at its index, or false with
 * *at where it would go
 */
static bool
find_tsid(const mg_set *s, const uint8_t *uuid, const char *tag, size_t *at)
{
	size_t		lo = 0,
				hi = s->n;

	/* the entry used last first: the common case */
	if (s->hint < s->n && tsid_cmp(&s->tsids[s->hint], uuid, tag) == 0)
	{
		*at = s->hint;
		return true;
	}
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		int			c = tsid_cmp(&s->tsids[mid], uuid, tag);

		if (c == 0)
		{
			*at = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

/* get_tsid finds or inserts (uuid, tag), with room for an interval; NULL: OOM */
static mg_tsid *
get_tsid(mg_set *s, const uint8_t *uuid, const char *tag)
{
	size_t		at;
	mg_tsid    *t;

	if (!find_tsid(s, uuid, tag, &at))
	{
		mg_interval *iv = malloc(4 * sizeof(mg_interval));

		if (iv == NULL)
			return NULL;
		if (s->n == s->cap)
		{
			size_t		cap = s->cap ? 2 * s->cap : 4;
			mg_tsid    *ts = realloc(s->tsids, cap * sizeof(mg_tsid));

			if (ts == NULL)
			{
				free(iv);
				return NULL;
			}
			s->tsids = ts;
			s->cap = cap;
		}
		memmove(s->tsids + at + 1, s->tsids + at, (s->n - at) * sizeof(mg_tsid));
		s->n++;
		t = &s->tsids[at];
		memcpy(t->uuid, uuid, 16);
		strcpy(t->tag, tag);
		t->n = 0;
		t->cap = 4;
		t->iv = iv;
	}
	s->hint = at;
	return &s->tsids[at];
}

/* drop_if_empty removes an entry that get_tsid made but nothing went into */
static void
drop_if_empty(mg_set *s, mg_tsid *t)
{
	size_t		at = (size_t) (t - s->tsids);

	if (t->n > 0)
		return;
	free(t->iv);
	memmove(s->tsids + at, s->tsids + at + 1, (s->n - at - 1) * sizeof(mg_tsid));
	s->n--;
	s->hint = 0;
}

static bool
grow_intervals(mg_tsid *t)
{
	size_t		cap = 2 * t->cap;
	mg_interval *iv;

	iv = realloc(t->iv, cap * sizeof(mg_interval));
	if (iv == NULL)
		return false;
	t->iv = iv;
	t->cap = cap;
	return true;
}

/*
 * add_range adds the gnos start .. end (inclusive, 1 <= start <= end <
 * GNO_END) to t, merging what they overlap or touch.  False: out of
 * memory (t is unchanged then).
 */
static bool
add_range(mg_tsid *t, uint64_t start, uint64_t end)
{
	size_t		n = t->n,
				i,
				k,
				lo,
				hi;

	if (n > 0)
	{
		mg_interval *last = &t->iv[n - 1];

		/* the next gnos of the last interval, or gnos it has */
		if (start <= last->end + 1 && start >= last->start)
		{
			if (end > last->end)
				last->end = end;
			return true;
		}
	}
	if (n == 0 || start > t->iv[n - 1].end + 1)
	{
		/* after everything */
		if (n == t->cap && !grow_intervals(t))
			return false;
		t->iv[n].start = start;
		t->iv[n].end = end;
		t->n++;
		return true;
	}
	/* i: the first interval that ends at or after start - 1 */
	lo = 0;
	hi = n;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (t->iv[mid].end + 1 < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	/* k: the first interval that starts after end + 1 */
	hi = n;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (t->iv[mid].start <= end + 1)
			lo = mid + 1;
		else
			hi = mid;
	}
	k = lo;
	if (i == k)
	{
		/* between intervals i - 1 and i, touching neither */
		if (n == t->cap && !grow_intervals(t))
			return false;
		memmove(t->iv + i + 1, t->iv + i, (n - i) * sizeof(mg_interval));
		t->iv[i].start = start;
		t->iv[i].end = end;
		t->n++;
		return true;
	}
	/* merge intervals i .. k - 1 with it */
	if (t->iv[i].start < start)
		start = t->iv[i].start;
	if (t->iv[k - 1].end > end)
		end = t->iv[k - 1].end;
	t->iv[i].start = start;
	t->iv[i].end = end;
	memmove(t->iv + i + 1, t->iv + k, (n - k) * sizeof(mg_interval));
	t->n -= k - i - 1;
	return true;
}

static bool
tsid_contains(const mg_tsid *t, uint64_t gno)
{
	size_t		lo = 0,
				hi = t->n;
	const mg_interval *last = &t->iv[t->n - 1];

	/* beyond the last interval, or in it: the common cases */
	if (gno > last->end)
		return false;
	if (gno >= last->start)
		return true;
	/* the first interval that ends at or after gno */
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (t->iv[mid].end < gno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->iv[lo].start <= gno;
}

/* the tag of g: it may lack its NUL within MG_TAG_MAX + 1 bytes */
static void
gtid_tag(const mg_gtid *g, char *tag)
{
	size_t		n = strnlen(g->tag, MG_TAG_MAX);

	memcpy(tag, g->tag, n);
	tag[n] = '\0';
}

/*
 * mg_set_add also refuses (false) a gno out of 1 .. 2^63 - 2, which no
 * server writes and mg_parse_gtid_event never gives
 */
bool
mg_set_add(mg_set *s, const mg_gtid *g)
{
	char		tag[MG_TAG_MAX + 1];
	mg_tsid    *t;

	if (g->gno == 0 || g->gno >= GNO_END)
		return false;
	gtid_tag(g, tag);
	if ((t = get_tsid(s, g->uuid, tag)) == NULL)
		return false;
	if (!add_range(t, g->gno, g->gno))
	{
		drop_if_empty(s, t);
		return false;
	}
	return true;
}

bool
mg_set_contains(const mg_set *s, const mg_gtid *g)
{
	char		tag[MG_TAG_MAX + 1];
	size_t		at;

	gtid_tag(g, tag);
	return find_tsid(s, g->uuid, tag, &at) && tsid_contains(&s->tsids[at], g->gno);
}

bool
mg_set_union(mg_set *s, const mg_set *other)
{
	if (s == other)
		return true;
	for (size_t i = 0; i < other->n; i++)
	{
		const mg_tsid *o = &other->tsids[i];
		mg_tsid    *t = get_tsid(s, o->uuid, o->tag);

		if (t == NULL)
			return false;
		for (size_t j = 0; j < o->n; j++)
			if (!add_range(t, o->iv[j].start, o->iv[j].end))
			{
				drop_if_empty(s, t);
				return false;
			}
	}
	return true;
}

bool
mg_set_includes(const mg_set *s, const mg_set *other)
{
	for (size_t i = 0; i < other->n; i++)
	{
		const mg_tsid *o = &other->tsids[i];
		const mg_tsid *t;
		size_t		at,
					j = 0;

		if (!find_tsid(s, o->uuid, o->tag, &at))
			return false;
		t = &s->tsids[at];
		/* each of o's intervals within one of t's (they are merged) */
		for (size_t k = 0; k < o->n; k++)
		{
			while (j < t->n && t->iv[j].end < o->iv[k].start)
				j++;
			if (j == t->n || t->iv[j].start > o->iv[k].start || t->iv[j].end < o->iv[k].end)
				return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------------ text */

/* MySQL's whitespace (libs/mysql/strconv/decode/whitespace.h) */
static bool
is_space(unsigned char ch)
{
	return (ch >= 9 && ch <= 13) || ch == ' ';
}

static const char *
skip_space(const char *p)
{
	while (is_space((unsigned char) *p))
		p++;
	return p;
}

static int
hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* hex_bytes reads n bytes of two hex digits each at *p */
static bool
hex_bytes(const char **p, uint8_t *out, int n)
{
	const char *s = *p;

	for (int i = 0; i < n; i++)
	{
		int			hi = hexval((unsigned char) s[0]),
					lo;

		if (hi < 0)
			return false;
		lo = hexval((unsigned char) s[1]);
		if (lo < 0)
			return false;
		out[i] = (uint8_t) (hi << 4 | lo);
		s += 2;
	}
	*p = s;
	return true;
}

/*
 * parse_uuid reads a uuid as MySQL 9.7's GTID set parser does: 8-4-4-4-12
 * hex digits with dashes, the same in braces, or 32 hex digits (told
 * apart by what follows the first 8)
 */
static bool
parse_uuid(const char **p, uint8_t *uuid)
{
	static const int sections[] = {4, 2, 2, 2, 6};
	const char *s = *p;
	bool		braces = *s == '{';

	if (braces)
		s++;
	if (!hex_bytes(&s, uuid, 4))
		return false;
	if (braces || *s == '-')
	{
		int			at = 4;

		for (int i = 1; i < 5; i++)
		{
			if (*s++ != '-' || !hex_bytes(&s, uuid + at, sections[i]))
				return false;
			at += sections[i];
		}
		if (braces && *s++ != '}')
			return false;
	}
	else if (!hex_bytes(&s, uuid + 4, 12))
		return false;
	*p = s;
	return true;
}

/*
 * parse_number reads decimal digits (at least one) into *v; false when
 * there are none or the number is GNO_END or more
 */
static bool
parse_number(const char **p, uint64_t *v, bool *range)
{
	const char *s = *p;
	uint64_t	n = 0;

	*range = true;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
	{
		/* past GNO_END / 10 the number is out of range: stop there */
		if (n > GNO_END / 10)
			n = GNO_END;
		else
			n = n * 10 + (uint64_t) (*s - '0');
	}
	*p = s;
	if (n >= GNO_END)
	{
		*range = false;
		return false;
	}
	*v = n;
	return true;
}

static bool
bad_text(char *err, size_t errlen, const char *text, const char *at, const char *what)
{
	seterr(err, errlen, "malformed GTID set: %s at character %zu of \"%.80s%s\"",
		   what, (size_t) (at - text), text, strlen(text) > 80 ? "..." : "");
	return false;
}

/*
 * parse_text adds the GTIDs of text to s, in MySQL 9.7's grammar (the
 * parser of gtid_text_format_conv.h, whitespace allowed before and after
 * every token):
 *
 *	 set		:= ","* (uuid_set (","+ uuid_set)*)? ","*
 *	 uuid_set	:= uuid (":" tag | ":" interval)*
 *	 interval	:= number ("-" number)?
 *
 * A tag applies to the intervals after it, up to the next tag or uuid;
 * intervals before the first tag are untagged.  A start must be 1 .. 2^63
 * - 2, an end 0 .. 2^63 - 2; an interval whose end is below its start is
 * empty (accepted, adds nothing).  A tag is at most 32 characters, so
 * a longer run of tag characters is refused.
 */
static bool
parse_text(mg_set *s, const char *text, char *err, size_t errlen)
{
	const char *p = text;

	for (;;)
	{
		uint8_t		uuid[16];
		char		tag[MG_TAG_MAX + 1] = "";

		p = skip_space(p);
		while (*p == ',')
			p = skip_space(p + 1);
		if (*p == '\0')
			return true;
		if (!parse_uuid(&p, uuid))
			return bad_text(err, errlen, text, p, "expected a uuid");
		for (;;)
		{
			p = skip_space(p);
			if (*p != ':')
				break;
			p = skip_space(p + 1);
			if (tag_first_char((unsigned char) *p))
			{
				size_t		n = 0;

				while (tag_char((unsigned char) p[n]))
					n++;
				if (n > MG_TAG_MAX)
					return bad_text(err, errlen, text, p, "tag longer than 32 characters");
				tag_copy(tag, (const uint8_t *) p, n);
				p += n;
			}
			else
			{
				uint64_t	start,
							end;
				bool		range;
				const char *at = p;

				if (!parse_number(&p, &start, &range))
					return bad_text(err, errlen, text, at,
									range ? "expected a tag or a number" : "interval start out of range");
				if (start == 0)
					return bad_text(err, errlen, text, at, "interval start out of range");
				end = start;
				p = skip_space(p);
				if (*p == '-')
				{
					p = skip_space(p + 1);
					at = p;
					if (!parse_number(&p, &end, &range))
						return bad_text(err, errlen, text, at,
										range ? "expected a number" : "interval end out of range");
				}
				if (end >= start)
				{
					mg_tsid    *t = get_tsid(s, uuid, tag);

					if (t == NULL || !add_range(t, start, end))
					{
						if (t != NULL)
							drop_if_empty(s, t);
						seterr(err, errlen, "out of memory");
						return false;
					}
				}
			}
		}
		if (*p != ',' && *p != '\0')
			return bad_text(err, errlen, text, p, "expected \",\"");
	}
}

bool
mg_set_parse(mg_set *s, const char *text, char *err, size_t errlen)
{
	mg_set	   *tmp = mg_set_new();
	bool		ok;

	/* into a set of its own, so that s is left as it was on an error */
	if (tmp == NULL)
	{
		seterr(err, errlen, "out of memory");
		return false;
	}
	ok = parse_text(tmp, text, err, errlen);
	if (ok && !mg_set_union(s, tmp))
	{
		seterr(err, errlen, "out of memory");
		ok = false;
	}
	mg_set_free(tmp);
	return ok;
}

static size_t
u64_text(char *out, uint64_t v)
{
	char		tmp[20];
	size_t		n = 0;

	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

char *
mg_set_text(const mg_set *s)
{
	size_t		len = 1;
	char	   *out,
			   *o;

	/* at most: ',' uuid, ':' tag, and ':' 19 digits '-' 19 digits each */
	for (size_t i = 0; i < s->n; i++)
		len += 1 + 36 + 1 + MG_TAG_MAX + s->tsids[i].n * (1 + 19 + 1 + 19);
	if ((out = malloc(len)) == NULL)
		return NULL;
	o = out;
	for (size_t i = 0; i < s->n; i++)
	{
		const mg_tsid *t = &s->tsids[i];

		if (i == 0 || memcmp(t->uuid, s->tsids[i - 1].uuid, 16) != 0)
		{
			if (i > 0)
				*o++ = ',';
			uuid_text(t->uuid, o);
			o += 36;
		}
		if (t->tag[0] != '\0')
		{
			size_t		n = strlen(t->tag);

			*o++ = ':';
			memcpy(o, t->tag, n);
			o += n;
		}
		for (size_t j = 0; j < t->n; j++)
		{
			*o++ = ':';
			o += u64_text(o, t->iv[j].start);
			if (t->iv[j].end > t->iv[j].start)
			{
				*o++ = '-';
				o += u64_text(o, t->iv[j].end);
			}
		}
	}
	*o = '\0';
	return out;
}

/* ---------------------------------------------------------------- binary */

static bool
bad_binary(char *err, size_t errlen, const char *what, size_t pos)
{
	seterr(err, errlen, "malformed binary GTID set: %s at byte %zu", what, pos);
	return false;
}

static bool
decode(mg_set *s, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	uint64_t	head,
				nsids;
	bool		tagged;
	size_t		pos = 8;

	if (len < 8)
		return bad_binary(err, errlen, "cut short in the number of uuids", 0);
	/* decode_nsids_format: the format in the top byte */
	head = rd_le(buf, 8);
	switch (head >> 56)
	{
		case 0:
			tagged = false;
			nsids = head & (((uint64_t) 1 << 56) - 1);
			break;
		case 1:
			tagged = true;
			nsids = (head & UINT64_C(0x00ffffffffffff00)) >> 8;
			break;
		default:
			return bad_binary(err, errlen, "unknown format", 7);
	}
	for (uint64_t i = 0; i < nsids; i++)
	{
		uint8_t		uuid[16];
		char		tag[MG_TAG_MAX + 1] = "";
		uint64_t	nivs,
					last = 0;
		mg_tsid    *t;

		if (len - pos < 16)
			return bad_binary(err, errlen, "cut short in a uuid", pos);
		memcpy(uuid, buf + pos, 16);
		pos += 16;
		if (tagged)
		{
			uint64_t	taglen;
			size_t		n = varlen(buf + pos, len - pos, UINT64_MAX, &taglen);

			if (n == 0)
				return bad_binary(err, errlen, "cut short in a tag", pos);
			if (taglen > MG_TAG_MAX)
				return bad_binary(err, errlen, "tag longer than 32 characters", pos);
			if (taglen > len - pos - n)
				return bad_binary(err, errlen, "cut short in a tag", pos);
			if (!tag_copy(tag, buf + pos + n, (size_t) taglen))
				return bad_binary(err, errlen, "bad tag", pos + n);
			pos += n + (size_t) taglen;
		}
		if (len - pos < 8)
			return bad_binary(err, errlen, "cut short in a number of intervals", pos);
		nivs = rd_le(buf + pos, 8);
		pos += 8;
		if (nivs > (len - pos) / 16)
			return bad_binary(err, errlen, "cut short in the intervals", pos);
		if (nivs == 0)
			continue;
		if ((t = get_tsid(s, uuid, tag)) == NULL)
		{
			seterr(err, errlen, "out of memory");
			return false;
		}
		for (uint64_t k = 0; k < nivs; k++)
		{
			uint64_t	start = rd_le(buf + pos, 8),
						end = rd_le(buf + pos + 8, 8);

			/* ascending and apart, end exclusive, all below 2^63 (signed) */
			if (start > GNO_END || end > GNO_END || start <= last || end <= start)
				return bad_binary(err, errlen, "interval out of order or range", pos);
			last = end;
			if (!add_range(t, start, end - 1))
			{
				drop_if_empty(s, t);
				seterr(err, errlen, "out of memory");
				return false;
			}
			pos += 16;
		}
	}
	if (pos != len)
		return bad_binary(err, errlen, "trailing bytes", pos);
	return true;
}

bool
mg_set_decode(mg_set *s, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	mg_set	   *tmp = mg_set_new();
	bool		ok;

	if (tmp == NULL)
	{
		seterr(err, errlen, "out of memory");
		return false;
	}
	ok = decode(tmp, buf, len, err, errlen);
	if (ok && !mg_set_union(s, tmp))
	{
		seterr(err, errlen, "out of memory");
		ok = false;
	}
	mg_set_free(tmp);
	return ok;
}

uint8_t *
mg_set_encode(const mg_set *s, size_t *len)
{
	bool		tagged = false;
	size_t		size = 8,
				pos = 8;
	uint8_t    *out;

	for (size_t i = 0; i < s->n; i++)
		if (s->tsids[i].tag[0] != '\0')
			tagged = true;
	for (size_t i = 0; i < s->n; i++)
		size += 16 + (tagged ? 1 + strlen(s->tsids[i].tag) : 0) + 8 + 16 * s->tsids[i].n;
	if ((out = malloc(size)) == NULL)
		return NULL;
	/* encode_nsids_format */
	if (tagged)
		wr_le64(out, (uint64_t) 1 << 56 | (uint64_t) s->n << 8 | 1);
	else
		wr_le64(out, (uint64_t) s->n);
	for (size_t i = 0; i < s->n; i++)
	{
		const mg_tsid *t = &s->tsids[i];

		memcpy(out + pos, t->uuid, 16);
		pos += 16;
		if (tagged)
		{
			size_t		n = strlen(t->tag);

			/* the length as a one-byte variable-length integer (< 128) */
			out[pos++] = (uint8_t) (n << 1);
			memcpy(out + pos, t->tag, n);
			pos += n;
		}
		wr_le64(out + pos, (uint64_t) t->n);
		pos += 8;
		for (size_t j = 0; j < t->n; j++)
		{
			wr_le64(out + pos, t->iv[j].start);
			wr_le64(out + pos + 8, t->iv[j].end + 1);
			pos += 16;
		}
	}
	*len = pos;
	return out;
}
