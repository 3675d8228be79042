/*
 * manifest.c
 *	  Writing, reading and repairing manifests.
 */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "archive_file.h"
#include "csv_write.h"
#include "seterr.h"

/* offsets: empty for snapshots */
static bool
put_offsets(ebuf *out, int64_t first, int64_t last)
{
	if (first < 0)
		return ebuf_puts(out, ",,\n");
	return ebuf_printf(out, ",%" PRId64 ",%" PRId64 "\n", first, last);
}

bool
mf_block_text(const mf_block *b, ebuf *out)
{
	size_t		start = out->len;
	uint32_t	crc;

	for (int i = 0; i < b->nfiles; i++)
	{
		const mf_entry *e = &b->files[i];

		if (!ebuf_puts(out, "file,") ||
			!csv_append(out, e->file, strlen(e->file)) ||
			!ebuf_printf(out, ",%" PRIu64 ",%" PRIu64 ",%08x", e->rows, e->bytes, e->crc) ||
			!put_offsets(out, b->first, b->last))
			return false;
	}
	crc = (uint32_t) crc32(crc32(0L, Z_NULL, 0), (const Bytef *) out->data + start,
						   (uInt) (out->len - start));
	return ebuf_printf(out, "commit,,%" PRIu64 ",%d,%08x", b->rows, b->nfiles, crc) &&
		put_offsets(out, b->first, b->last);
}

/* split_fields splits one CSV record (no LF) into at most max fields */
static int
split_fields(char *line, char **fields, int max)
{
	int			n = 0;
	char	   *p = line;

	while (n < max)
	{
		char	   *w = p;

		fields[n++] = p;
		if (*p == '"')
		{
			char	   *r = p + 1;

			fields[n - 1] = w;
			for (;;)
			{
				if (*r == '\0')
					return -1;
				if (*r == '"' && r[1] == '"')
				{
					*w++ = '"';
					r += 2;
					continue;
				}
				if (*r == '"')
				{
					r++;
					break;
				}
				*w++ = *r++;
			}
			if (*r != ',' && *r != '\0')
				return -1;
			*w = '\0';
			if (*r == '\0')
				return n;
			p = r + 1;
			continue;
		}
		while (*p != ',' && *p != '\0')
			p++;
		if (*p == '\0')
			return n;
		*p++ = '\0';
	}
	return *p == '\0' ? n : -1;
}

static bool
parse_u64(const char *s, uint64_t *v)
{
	char	   *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool
parse_i64(const char *s, int64_t *v)
{
	uint64_t	u;

	if (*s == '\0')
	{
		*v = -1;
		return true;
	}
	if (!parse_u64(s, &u) || u > INT64_MAX)
		return false;
	*v = (int64_t) u;
	return true;
}

static bool
parse_crc(const char *s, uint32_t *v)
{
	char	   *end;

	if (strlen(s) != 8)
		return false;
	*v = (uint32_t) strtoul(s, &end, 16);
	return *end == '\0';
}

static void
free_block(mf_block *b)
{
	for (int i = 0; i < b->nfiles; i++)
		free(b->files[i].file);
	free(b->files);
	memset(b, 0, sizeof(*b));
}

bool
mf_read(const char *path, mf_block_fn fn, void *arg, off_t *valid_end,
		off_t *size, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	off_t		pos = 0;
	mf_block	b = {0};
	int			cap_files = 0;
	uint32_t	crc = (uint32_t) crc32(0L, Z_NULL, 0);
	bool		ok = true;
	bool		header = true;

	*valid_end = *size = 0;
	if (f == NULL)
	{
		if (errno == ENOENT)
			return true;
		seterr(err, errlen, "could not open manifest \"%s\": %s", path, strerror(errno));
		return false;
	}
	while ((len = getline(&line, &cap, f)) > 0)
	{
		char	   *fields[8];
		int			n;
		off_t		line_start = pos;

		pos += len;
		if (line[len - 1] != '\n')
			break;				/* torn: no end of line */
		if (header)
		{
			header = false;
			if (strcmp(line, MF_HEADER) != 0)
			{
				seterr(err, errlen, "\"%s\" is not an ecsync-ingest manifest", path);
				ok = false;
				break;
			}
			*valid_end = pos;
			continue;
		}
		line[len - 1] = '\0';
		/* the CRC covers the file records as written, before splitting */
		if (strncmp(line, "file,", 5) == 0)
		{
			line[len - 1] = '\n';
			crc = (uint32_t) crc32(crc, (const Bytef *) line, (uInt) len);
			line[len - 1] = '\0';
		}
		n = split_fields(line, fields, 8);
		if (n != 7)
			break;
		if (strcmp(fields[0], "file") == 0)
		{
			mf_entry   *e;

			if (b.nfiles == cap_files)
			{
				mf_entry   *grown;

				cap_files = cap_files ? 2 * cap_files : 8;
				grown = realloc(b.files, sizeof(mf_entry) * cap_files);
				if (grown == NULL)
				{
					seterr(err, errlen, "out of memory");
					ok = false;
					break;
				}
				b.files = grown;
			}
			e = &b.files[b.nfiles];
			if (!parse_u64(fields[2], &e->rows) || !parse_u64(fields[3], &e->bytes) ||
				!parse_crc(fields[4], &e->crc) || (e->file = strdup(fields[1])) == NULL)
				break;
			b.nfiles++;
			continue;
		}
		if (strcmp(fields[0], "commit") == 0)
		{
			uint64_t	rows,
						nfiles;
			uint32_t	bcrc;

			if (!parse_u64(fields[2], &rows) || !parse_u64(fields[3], &nfiles) ||
				!parse_crc(fields[4], &bcrc) || !parse_i64(fields[5], &b.first) ||
				!parse_i64(fields[6], &b.last) || nfiles != (uint64_t) b.nfiles || bcrc != crc)
				break;
			b.rows = rows;
			*valid_end = pos;
			if (fn != NULL && !fn(&b, arg))
			{
				free_block(&b);
				fclose(f);
				free(line);
				struct stat st;

				*size = stat(path, &st) == 0 ? st.st_size : pos;
				return true;
			}
			free_block(&b);
			cap_files = 0;
			crc = (uint32_t) crc32(0L, Z_NULL, 0);
			continue;
		}
		(void) line_start;
		break;
	}
	free_block(&b);
	free(line);
	if (ferror(f))
	{
		seterr(err, errlen, "could not read manifest \"%s\": %s", path, strerror(errno));
		ok = false;
	}
	fclose(f);
	{
		struct stat st;

		*size = stat(path, &st) == 0 ? st.st_size : pos;
	}
	return ok;
}

bool
mf_truncate(const char *path, off_t valid_end, char *err, size_t errlen)
{
	int			fd = open(path, O_WRONLY);

	if (fd < 0 || ftruncate(fd, valid_end) != 0 || fsync(fd) != 0)
	{
		seterr(err, errlen, "could not repair manifest \"%s\": %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

bool
mf_append(const char *path, const mf_block *b, char *err, size_t errlen)
{
	ebuf		text;
	struct stat st;
	bool		is_new = stat(path, &st) != 0;
	bool		ok;

	ebuf_init(&text);
	if ((is_new && !ebuf_puts(&text, MF_HEADER)) || !mf_block_text(b, &text))
	{
		ebuf_free(&text);
		seterr(err, errlen, "out of memory");
		return false;
	}
	ok = af_write_durably(path, O_CREAT | O_APPEND, text.data, text.len, err, errlen);
	ebuf_free(&text);
	if (ok && is_new)
	{
		char	   *dir = strdup(path);
		char	   *slash = dir ? strrchr(dir, '/') : NULL;

		if (slash != NULL)
		{
			*slash = '\0';
			ok = af_fsync_dir(dir, err, errlen);
		}
		free(dir);
	}
	return ok;
}

bool
mf_write(const char *tmp_path, const char *path, const mf_block *b,
		 char *err, size_t errlen)
{
	ebuf		text;
	bool		ok;

	ebuf_init(&text);
	if (!ebuf_puts(&text, MF_HEADER) || !mf_block_text(b, &text))
	{
		ebuf_free(&text);
		seterr(err, errlen, "out of memory");
		return false;
	}
	ok = af_write_durably(tmp_path, O_CREAT | O_TRUNC, text.data, text.len, err, errlen);
	ebuf_free(&text);
	ok = ok && af_publish(tmp_path, path, err, errlen);
	if (!ok)
		(void) unlink(tmp_path);
	return ok;
}

void
mf_sealed_path(const char *tmp_dir, const char *rel, char *buf, size_t len)
{
	size_t		n = (size_t) snprintf(buf, len, "%s/", tmp_dir);

	for (const char *s = rel; *s && n + 1 < len; s++)
		buf[n++] = *s == '/' ? '%' : *s;
	buf[n < len ? n : len - 1] = '\0';
}

bool
mf_redo(const char *archive_dir, const char *tmp_dir, const mf_block *b,
		const char *manifest, char *err, size_t errlen)
{
	for (int i = 0; i < b->nfiles; i++)
	{
		char		final[4200],
					sealed[4200];
		struct stat st;

		snprintf(final, sizeof(final), "%s/%s", archive_dir, b->files[i].file);
		if (stat(final, &st) == 0)
			continue;
		mf_sealed_path(tmp_dir, b->files[i].file, sealed, sizeof(sealed));
		if (stat(sealed, &st) != 0)
		{
			seterr(err, errlen, "the archive is damaged: \"%s\" is committed in \"%s\" "
				   "but neither it nor its temporary file exists", final, manifest);
			return false;
		}
		if (!af_publish(sealed, final, err, errlen))
			return false;
	}
	return true;
}
