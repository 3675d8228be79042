/*
 * fuzz_binlog_rows.c
 *	  libFuzzer target for the binary log decoder (common/binlog_rows.c),
 *	  which reads bytes a MySQL server sends into a PostgreSQL backend: any
 *	  TABLE_MAP and rows event must decode or give a message, never crash,
 *	  leak, read outside the event or hit undefined behaviour.
 *
 *	  Input: the rows event's type (1 byte), the TABLE_MAP body's length
 *	  (2 bytes, little-endian), the TABLE_MAP body, the rows event body
 *	  (the seeds are real events: tests/gen/binlogcat with BINLOGCAT_SEEDS).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_rows.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static br_image img,
				after;
	static bool init;
	br_table	t;
	br_rows		r;
	char		err[512];
	size_t		maplen,
				pos = 0;
	int			type;
	int			images = 0;

	if (!init)
	{
		br_image_init(&img);
		br_image_init(&after);
		init = true;
	}
	if (size < 3)
		return 0;
	type = data[0];
	maplen = data[1] | (data[2] << 8);
	if (maplen > size - 3)
		return 0;
	/* copies of the exact size, so that ASan sees any read past them */
	{
		uint8_t    *map = malloc(maplen ? maplen : 1);
		uint8_t    *rows = malloc(size - 3 - maplen ? size - 3 - maplen : 1);

		memcpy(map, data + 3, maplen);
		memcpy(rows, data + 3 + maplen, size - 3 - maplen);
		if (br_parse_table_map(map, maplen, 6, &t, err, sizeof(err)))
		{
			/* names and strings are NUL-terminated and within the table */
			for (int i = 0; i < t.ncols; i++)
				if (t.cols[i].name)
					(void) strlen(t.cols[i].name);
			if (br_is_rows_event(type) &&
				br_parse_rows(type, rows, size - 3 - maplen, 6, &r, err, sizeof(err)))
			{
				while (pos < r.len && images < 10000)
				{
					const uint8_t *present = (r.kind == BR_UPDATE && images % 2 == 1) ? r.present_after : r.present;

					if (!br_next_image(&r, &t, present, &pos, &img, err, sizeof(err)))
						break;
					for (int i = 0; i < img.ncols; i++)
					{
						const char *v = br_value(&img, i);

						if (v && strlen(v) > (size_t) img.len[i])
							abort();	/* a value is its bytes and a NUL */
					}
					images++;
				}
				/* again row by row, an update's images into two (br_next_row) */
				pos = 0;
				images = 0;
				while (pos < r.len && images++ < 10000 &&
					   br_next_row(&r, &t, &pos, &img, &after, err, sizeof(err)))
					;
			}
			br_table_free(&t);
		}
		free(map);
		free(rows);
	}
	return 0;
}
