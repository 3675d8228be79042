/*
 * archive_file.h
 *	  Durable files of the archive.  A file is written under a temporary
 *	  name in the archive's .tmp directory (optionally through gzip), with
 *	  its CRC-32, size and record count kept as it goes; af_finish flushes
 *	  and fsyncs it; af_publish renames it to its final name and fsyncs the
 *	  directories it touched.  Until then nothing of it is visible in the
 *	  archive's data directories.
 */
#ifndef INGEST_ARCHIVE_FILE_H
#define INGEST_ARCHIVE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "ebuf.h"

#define AF_ERRLEN 1024
#define AF_BUFFER (256 * 1024)

typedef struct af_file
{
	int			fd;
	char	   *tmp_path;
	bool		gzip;
	z_stream	z;
	bool		z_open;
	ebuf		buf;			/* CSV text not yet written */
	ebuf		zbuf;			/* compressed bytes (gzip) */
	uint32_t	crc;			/* of the stored bytes */
	uint64_t	bytes;			/* stored bytes */
	uint64_t	rows;			/* records, not counting the header */
} af_file;

/* af_open creates tmp_path (truncating a leftover) and writes header */
extern bool af_open(af_file *f, const char *tmp_path, bool gzip,
					const char *header, size_t headerlen,
					char *err, size_t errlen);

/* af_append adds CSV text holding rows records */
static inline bool
af_buffer(af_file *f, const void *data, size_t len, uint64_t rows)
{
	f->rows += rows;
	return ebuf_append(&f->buf, data, len);
}

/* af_flush writes what is buffered when there is enough (or force) */
extern bool af_flush(af_file *f, bool force, char *err, size_t errlen);

/* af_finish flushes, ends the gzip stream, fsyncs and closes */
extern bool af_finish(af_file *f, char *err, size_t errlen);

/* af_discard closes and removes the temporary file (after any error) */
extern void af_discard(af_file *f);

/* af_free frees what af_open allocated (after af_finish) */
extern void af_free(af_file *f);

/*
 * af_publish renames tmp_path to final_path, creating final_path's
 * directories (durably) as needed, and fsyncs the directory.
 */
extern bool af_publish(const char *tmp_path, const char *final_path,
					   char *err, size_t errlen);

/* af_mkdirs creates path and its parents, fsyncing each parent it changes */
extern bool af_mkdirs(const char *path, char *err, size_t errlen);

/* af_fsync_dir fsyncs a directory */
extern bool af_fsync_dir(const char *path, char *err, size_t errlen);

/* af_write_all writes len bytes to fd, retrying short writes */
extern bool af_write_all(int fd, const void *data, size_t len,
						 const char *path, char *err, size_t errlen);

/*
 * af_write_durably opens path with flags (O_CREAT, O_APPEND, O_TRUNC...),
 * writes len bytes, fsyncs and closes it
 */
extern bool af_write_durably(const char *path, int flags, const void *data, size_t len,
							 char *err, size_t errlen);

/* af_clear_dir removes every file in path (not subdirectories) */
extern bool af_clear_dir(const char *path, char *err, size_t errlen);

/* what af_read_file hands on: false stops the read */
typedef bool (*af_chunk_fn) (const void *buf, size_t len, void *arg);

/*
 * af_read_file reads path, gunzipping a ".gz" file: raw gets the bytes as
 * stored, data the file's content (either may be NULL).  False with a
 * message on a read error, a broken or incomplete gzip stream, or a
 * callback that returned false (whose message is its own).
 */
extern bool af_read_file(const char *path, af_chunk_fn raw, af_chunk_fn data, void *arg,
						 char *err, size_t errlen);

#endif							/* INGEST_ARCHIVE_FILE_H */
