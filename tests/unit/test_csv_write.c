/*
 * test_csv_write.c
 *	  Unit tests of the CSV writer (common/csv_write.c): which values are
 *	  quoted and how, bytea hex, and the record counter across pieces; and
 *	  the buffer's formatted append (common/ebuf.c) it writes into.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "csv_write.h"

static void
field_is(const char *in, size_t len, const char *want)
{
	ebuf		b;

	ebuf_init(&b);
	CHECK(csv_append(&b, in, len), "append");
	CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0,
		  "[%.*s]: got [%.*s], want [%s]", (int) len, in, (int) b.len, b.data, want);
	ebuf_free(&b);
}

static void
test_fields(void)
{
	field_is("plain", 5, "plain");
	field_is("", 0, "\"\"");	/* the empty string, not NULL */
	field_is("a,b", 3, "\"a,b\"");
	field_is("say \"hi\"", 8, "\"say \"\"hi\"\"\"");
	field_is("\"", 1, "\"\"\"\"");
	field_is("l1\nl2", 5, "\"l1\nl2\"");
	field_is("cr\r", 3, "\"cr\r\"");
	field_is("\\.", 2, "\"\\.\"");	/* COPY's end-of-data marker */
	field_is("\\N", 2, "\\N");	/* only text COPY reads this as NULL */
	field_is(" spaced ", 8, " spaced ");
	field_is("🍣 日本語", strlen("🍣 日本語"), "🍣 日本語");
}

static void
test_hex(void)
{
	ebuf		b;
	const unsigned char bytes[] = {0x00, 0x0a, 0xff, 0x2c};

	ebuf_init(&b);
	CHECK(csv_append_hex(&b, bytes, sizeof(bytes)), "hex");
	CHECK(b.len == 10 && memcmp(b.data, "\\x000aff2c", 10) == 0, "got [%.*s]", (int) b.len, b.data);
	ebuf_reset(&b);
	CHECK(csv_append_hex(&b, bytes, 0) && b.len == 2 && memcmp(b.data, "\\x", 2) == 0, "empty bytea");
	ebuf_free(&b);
}

static void
test_count(void)
{
	const char *text = "a,b\n\"x\ny\",\"q\"\"\"\n,\n\"last\"";
	size_t		len = strlen(text);
	bool		open;

	/* fed whole, and fed one byte at a time */
	for (int piece = 0; piece < 2; piece++)
	{
		csv_counter c = {0};

		if (piece == 0)
			csv_count(&c, text, len);
		else
			for (size_t i = 0; i < len; i++)
				csv_count(&c, text + i, 1);
		CHECK(csv_count_finish(&c, &open) == 4 && !open, "4 records (pieces %d)", piece);
	}
	{
		csv_counter c = {0};

		csv_count(&c, "a\n\"open\n", 8);
		CHECK(csv_count_finish(&c, &open) == 2 && open, "an unterminated quote is noticed");
	}
	{
		csv_counter c = {0};

		CHECK(csv_count_finish(&c, &open) == 0 && !open, "nothing is no record");
	}
}

/* ebuf_printf: appended after what is there, growing when the text does not fit */
static void
test_printf(void)
{
	char		text[2000];

	memset(text, 'z', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	/* text one short of the room left, exactly the room (no room for the NUL), one more, far more */
	for (int extra = -1; extra <= 1000; extra += extra < 1 ? 1 : 999)
	{
		ebuf		b;
		size_t		room,
					n;

		ebuf_init(&b);
		CHECK(ebuf_printf(&b, "%s,%d", "ab", 42) && b.len == 5 && memcmp(b.data, "ab,42", 5) == 0, "short");
		room = b.cap - b.len;
		n = room + extra;
		CHECK(n < sizeof(text), "the test's text is long enough");
		CHECK(ebuf_printf(&b, "%.*s|", (int) n - 1, text), "append %zu bytes into %zu of room", n, room);
		CHECK(b.len == 5 + n && memcmp(b.data, "ab,42", 5) == 0 &&
			  memcmp(b.data + 5, text, n - 1) == 0 && b.data[b.len - 1] == '|',
			  "%zu bytes into %zu of room: got %zu bytes", n, room, b.len);
		ebuf_free(&b);
	}
}

int
main(void)
{
	test_printf();
	test_fields();
	test_hex();
	test_count();
	printf("test_csv_write: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
