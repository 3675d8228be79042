/*
 * manifest.h
 *	  The archive's manifests: what is committed, and how to check it.
 *
 *	  A manifest is a CSV file of blocks.  A block lists files, one record
 *	  each (path relative to the archive, records, bytes, CRC-32 of the
 *	  bytes as stored, and for streams the Kafka offset range), and ends
 *	  with a commit record carrying the block's totals and the CRC-32 of
 *	  its file records:
 *
 *	    entry,file,rows,bytes,crc32,first_offset,last_offset
 *	    file,page_views/dt=2026-11-28/hour=05/p0-...-....csv,1000,81234,1a2b3c4d,0,999
 *	    commit,,1000,1,5e6f7a8b,0,999
 *
 *	  A block is committed once its commit record is durable; anything
 *	  after the last valid commit record (a torn append) is cut off on
 *	  recovery.  Stream manifests grow by one block per roll and live in
 *	  <topic>/_manifest/partition=<P>.csv; a snapshot's manifest is one
 *	  block, _snapshots/<id>.csv, written whole and renamed into place.
 */
#ifndef INGEST_MANIFEST_H
#define INGEST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ebuf.h"

typedef struct mf_entry
{
	char	   *file;			/* relative to the archive directory */
	uint64_t	rows;
	uint64_t	bytes;
	uint32_t	crc;
} mf_entry;

typedef struct mf_block
{
	int			nfiles;
	mf_entry   *files;
	uint64_t	rows;
	int64_t		first;			/* Kafka offsets, or -1 for snapshots */
	int64_t		last;
} mf_block;

#define MF_HEADER "entry,file,rows,bytes,crc32,first_offset,last_offset\n"

/* mf_block_text appends a block's records */
extern bool mf_block_text(const mf_block *b, ebuf *out);

/* called for each committed block, in order; false stops the reading */
typedef bool (*mf_block_fn) (const mf_block *b, void *arg);

/*
 * mf_read reads the manifest at path, calling fn for each committed block.
 * *valid_end is where the last committed block ends and *size the file's
 * size: when they differ, the tail is a torn append.  A missing file reads
 * as empty.  False with a message when the file cannot be read or is not
 * a manifest.
 */
extern bool mf_read(const char *path, mf_block_fn fn, void *arg,
					off_t *valid_end, off_t *size, char *err, size_t errlen);

/* mf_truncate cuts a torn tail off (durably) */
extern bool mf_truncate(const char *path, off_t valid_end, char *err, size_t errlen);

/* mf_append appends a block durably, creating the manifest if needed */
extern bool mf_append(const char *path, const mf_block *b, char *err, size_t errlen);

/* mf_write writes a one-block manifest through a temporary file */
extern bool mf_write(const char *tmp_path, const char *path, const mf_block *b,
					 char *err, size_t errlen);

/*
 * mf_sealed_path: the temporary name, in tmp_dir, of the archive file rel
 * ("a/b/c.csv" becomes "<tmp_dir>/a%b%c.csv"), where a file waits for
 * its commit; derived from the final path, so recovery can find it
 */
extern void mf_sealed_path(const char *tmp_dir, const char *rel, char *buf, size_t len);

/*
 * mf_redo finishes the commit of block b (read from manifest): every file
 * not yet in place under archive_dir is renamed from its sealed name in
 * tmp_dir.  False with a message if a file is in neither place.
 */
extern bool mf_redo(const char *archive_dir, const char *tmp_dir, const mf_block *b,
					const char *manifest, char *err, size_t errlen);

#endif							/* INGEST_MANIFEST_H */
