/*
 * fuzz_mysql_gtid.c
 *	  libFuzzer target for MySQL's GTIDs and GTID sets
 *	  (common/mysql_gtid.c), which read what a MySQL server sends: GTID
 *	  event bodies and binary GTID sets must decode or give a message,
 *	  never crash, leak, read outside their bytes or hit undefined
 *	  behaviour, and what decodes must come back whole: a decoded set
 *	  encodes to bytes that decode to the same set (and encode to the same
 *	  bytes), and its text parses back to the same set.
 *
 *	  Input: the same bytes as a GTID_LOG_EVENT body, a
 *	  GTID_TAGGED_LOG_EVENT body, a binary set (PREVIOUS_GTIDS_LOG_EVENT's
 *	  body) and, up to a NUL, as set text (the seeds are real bodies of a
 *	  MySQL 9.7 binary log, tests/fuzz/corpus/mysql_gtid).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_gtid.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* same: a and b hold the same GTIDs */
static bool
same(const mg_set *a, const mg_set *b)
{
	return mg_set_includes(a, b) && mg_set_includes(b, a);
}

/* check_set: the round trips of a set that was read */
static void
check_set(const mg_set *s)
{
	char		err[512];
	size_t		len,
				len2;
	uint8_t    *enc = mg_set_encode(s, &len),
			   *enc2;
	char	   *text,
			   *text2;
	mg_set	   *d = mg_set_new(),
			   *t = mg_set_new();

	if (enc == NULL || d == NULL || t == NULL)
		abort();
	/* binary */
	if (!mg_set_decode(d, enc, len, err, sizeof(err)) || !same(s, d))
		abort();
	enc2 = mg_set_encode(d, &len2);
	if (enc2 == NULL || len2 != len || memcmp(enc, enc2, len) != 0)
		abort();
	/* text */
	text = mg_set_text(s);
	if (text == NULL || strchr(text, '\n') != NULL || (text[0] == '\0') != mg_set_is_empty(s))
		abort();
	if (!mg_set_parse(t, text, err, sizeof(err)) || !same(s, t))
		abort();
	text2 = mg_set_text(t);
	if (text2 == NULL || strcmp(text, text2) != 0)
		abort();
	free(enc);
	free(enc2);
	free(text);
	free(text2);
	mg_set_free(d);
	mg_set_free(t);
}

/* check_gtid: one GTID that was read */
static void
check_gtid(const mg_gtid *g)
{
	char		text[MG_GTID_TEXT_MAX],
				err[512];
	mg_set	   *s = mg_set_new(),
			   *p = mg_set_new();

	if (g->gno == 0 || g->gno >= (uint64_t) INT64_MAX || strlen(g->tag) > MG_TAG_MAX)
		abort();
	for (const char *c = g->tag; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || *c == '_' || (c > g->tag && *c >= '0' && *c <= '9')))
			abort();
	mg_gtid_text(g, text, sizeof(text));
	if (strlen(text) >= sizeof(text) - 1)
		abort();				/* room to spare: never cut */
	/* its text is a set of that GTID */
	if (s == NULL || p == NULL || !mg_set_add(s, g) || !mg_set_contains(s, g))
		abort();
	if (!mg_set_parse(p, text, err, sizeof(err)) || !same(s, p) || !mg_set_contains(p, g))
		abort();
	check_set(s);
	mg_set_free(s);
	mg_set_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		err[512];
	/* a copy of the exact size, so that ASan sees any read past it */
	uint8_t    *b = malloc(size ? size : 1);
	char	   *text = malloc(size + 1);
	mg_set	   *s = mg_set_new();
	mg_gtid		g;
	int			r;

	if (b == NULL || text == NULL || s == NULL)
		abort();
	memcpy(b, data, size);

	/* GTID events */
	err[0] = '\0';
	r = mg_parse_gtid_event(33, b, size, &g, err, sizeof(err));
	if (r == 1)
		check_gtid(&g);
	else if (r == -1 && err[0] == '\0')
		abort();
	err[0] = '\0';
	r = mg_parse_gtid_event(42, b, size, &g, err, sizeof(err));
	if (r == 1)
		check_gtid(&g);
	else if (r != -1 || err[0] == '\0')
		abort();				/* a tagged event always has a GTID */

	/* a binary set: all of it, or nothing */
	err[0] = '\0';
	if (mg_set_decode(s, b, size, err, sizeof(err)))
		check_set(s);
	else if (err[0] == '\0' || !mg_set_is_empty(s))
		abort();

	/* text, up to a NUL */
	memcpy(text, data, size);
	text[size] = '\0';
	mg_set_free(s);
	s = mg_set_new();
	err[0] = '\0';
	if (mg_set_parse(s, text, err, sizeof(err)))
		check_set(s);
	else if (err[0] == '\0' || !mg_set_is_empty(s))
		abort();

	mg_set_free(s);
	free(text);
	free(b);
	return 0;
}
