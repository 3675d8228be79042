/*
 * stream_archive.c
 *	  Stream mode: page views from Kafka into the archive, exactly once.
 *
 *	  Every owned Kafka partition has at most one open roll: the offsets
 *	  first..last read since its last commit, written as CSV into one
 *	  temporary file per (event date and hour) bucket, plus one for dead
 *	  letters.  A roll is committed when it is big enough or old enough
 *	  (roll.bytes, roll.seconds), when its partition is revoked, and at
 *	  shutdown:
 *
 *	    1. each file is flushed and fsynced, then renamed within .tmp to a
 *	       name derived from its final path ("sealed"); .tmp is fsynced;
 *	    2. a block naming the files, their rows, sizes and CRCs and the
 *	       offset range is appended to the partition's manifest and
 *	       fsynced: this is the commit;
 *	    3. the sealed files are renamed into place (directories fsynced);
 *	    4. the Kafka offset last+1 is committed, for monitoring only.
 *
 *	  The manifest, not Kafka, says where to resume: on start the last
 *	  block of each manifest is redone (step 3) and .tmp is emptied, so a
 *	  crash anywhere leaves each offset in exactly one committed file.
 *	  File names hold the partition and the roll's offset range.
 *
 *	  One process archives a topic into an archive (a lock file says so),
 *	  so it assigns itself every partition rather than joining the group:
 *	  no rebalance, and no wait for a crashed member's session to expire.
 *	  The group (the "group" setting) receives the committed offsets, so
 *	  that Kafka's tools show the archive's lag.  New partitions are picked
 *	  up within 30 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <librdkafka/rdkafka.h>

#include "archive_file.h"
#include "copy_binary.h"
#include "csv_write.h"
#include "event_decode.h"
#include "event_pipe.h"
#include "kafka_consumer.h"
#include "ingest.h"
#include "manifest.h"
#include "seterr.h"

#define USECS_PER_HOUR INT64_C(3600000000)
#define PG_EPOCH_UNIX_USECS INT64_C(946684800000000)
#define MAX_PARTITIONS 4096
#define MAX_BUCKETS 32			/* open files per roll: more rolls it early */
#define DEAD_HEADER "kafka_partition,kafka_offset,kafka_timestamp,kind,reason,message_key,payload\n"

typedef struct bucket
{
	int64_t		hour;			/* hours since 1970-01-01 UTC */
	bool		dead;
	bool		sealed;			/* under its sealed name: recovery's to remove */
	af_file		f;
	char	   *rel;			/* final path, relative to the archive */
} bucket;

typedef struct roll
{
	bool		open;
	int64_t		first;
	int64_t		last;
	int			nb;
	int			capb;
	bucket	   *b;
	double		opened_at;
	uint64_t	rows;			/* events and dead letters */
	uint64_t	bytes;
} roll;

typedef struct part
{
	bool		owned;
	bool		known;			/* next was read from the manifest */
	int64_t		next;			/* next offset to archive, -1: none yet */
	int64_t		high;			/* high watermark when assigned (--once) */
	bool		to_commit;		/* next is durable, not yet sent to Kafka */
	roll		r;
} part;

static const ingest_opts *opt;
static const char *topic;
static char tmp_dir[4096];
static char manifest_dir[4096];
static long roll_bytes;
static long roll_seconds;
static bool start_latest;
static part parts[MAX_PARTITIONS];
static kc_consumer kc = {.cq_fd = {-1, -1}, .notify_fd = {-1, -1}};
static rd_kafka_queue_t *commit_q;	/* results of offset commits */
static int	nparts;
static int	commits_pending;	/* Kafka offset commits not yet answered */
static bool commit_warned;
static char err[AF_ERRLEN];
static uint64_t total_events;
static uint64_t total_dead;
static uint64_t total_files;

/* the archived columns: the extension's page_views, without ingested_at */
static ev_field fields[] = {
	{"kafka_partition", NULL, EV_INTEGER, EV_FROM_PARTITION, false},
	{"kafka_offset", NULL, EV_BIGINT, EV_FROM_OFFSET, false},
	{"user_id", "user_id", EV_BIGINT, EV_FROM_JSON, true},
	{"age", "age", EV_SMALLINT, EV_FROM_JSON, false},
	{"gender", "gender", EV_TEXT, EV_FROM_JSON, false},
	{"occupation", "occupation", EV_TEXT, EV_FROM_JSON, false},
	{"page", "page", EV_TEXT, EV_FROM_JSON, true},
	{"viewed_at", "viewed_at", EV_TIMESTAMPTZ, EV_FROM_JSON, true},
};
#define BUCKET_FIELD 7			/* viewed_at decides the dt/hour partition */
static ev_spec spec = {sizeof(fields) / sizeof(fields[0]), fields, 1048576};

/*
 * encode_row: the decoders' output for one event, the bucket's hour (8
 * bytes, native order) followed by the CSV record
 */
static bool
encode_row(ev_decoder *d, ebuf *out)
{
	int64_t		us = 0;
	int64_t		hour;

	(void) ev_value_int(d, BUCKET_FIELD, &us);	/* required: never NULL */
	us += PG_EPOCH_UNIX_USECS;
	hour = us >= 0 ? us / USECS_PER_HOUR : -((-us - 1) / USECS_PER_HOUR) - 1;
	return ebuf_append(out, &hour, sizeof(hour)) && ev_encode_csv(d, out);
}

/* ------------------------------------------------------------ paths */

static void
hour_dir(int64_t hour, char *buf, size_t len)
{
	char		ts[EV_TIMESTAMP_LEN];

	/* years PostgreSQL takes but a four-digit dt cannot name */
	if (hour < cb_days_from_civil(1, 1, 1) * 24 || hour >= cb_days_from_civil(10000, 1, 1) * 24)
	{
		snprintf(buf, len, "dt=0000-00-00/hour=00");
		return;
	}
	/* "YYYY-MM-DD HH:..." of the hour's start */
	ev_format_timestamptz(hour * USECS_PER_HOUR - PG_EPOCH_UNIX_USECS, ts);
	snprintf(buf, len, "dt=%.10s/hour=%.2s", ts, ts + 11);
}

static char *
final_rel(int32_t p, const roll *r, const bucket *b)
{
	char		dir[64];
	char	   *rel;

	hour_dir(b->hour, dir, sizeof(dir));
	if (asprintf(&rel, "%s%s/%s/p%" PRId32 "-%019" PRId64 "-%019" PRId64 ".csv%s",
				 topic, b->dead ? "_dead_letters" : "", dir, p, r->first, r->last,
				 opt->gzip ? ".gz" : "") < 0)
		return NULL;
	return rel;
}

static void
manifest_path(int32_t p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/partition=%" PRId32 ".csv", manifest_dir, p);
}

/* ------------------------------------------------------------ recovery */

typedef struct last_block
{
	mf_block	b;
	bool		any;
} last_block;

static bool
keep_last(const mf_block *b, void *arg)
{
	last_block *lb = arg;

	for (int i = 0; i < lb->b.nfiles; i++)
		free(lb->b.files[i].file);
	free(lb->b.files);
	lb->b = *b;
	lb->b.files = malloc(sizeof(mf_entry) * (b->nfiles ? b->nfiles : 1));
	if (lb->b.files == NULL)
		return false;
	for (int i = 0; i < b->nfiles; i++)
	{
		lb->b.files[i] = b->files[i];
		lb->b.files[i].file = strdup(b->files[i].file);
	}
	lb->any = true;
	return true;
}

/*
 * recover_partition reads p's manifest: cuts a torn tail, finishes the
 * renames of its last block, and sets where to resume
 */
static bool
recover_partition(int32_t p)
{
	char		path[4200];
	last_block	lb = {{0}, false};
	off_t		valid_end,
				size;
	bool		ok = true;

	manifest_path(p, path, sizeof(path));
	if (!mf_read(path, keep_last, &lb, &valid_end, &size, err, sizeof(err)))
		return false;
	if (valid_end != size)
	{
		ingest_log("partition %d: cutting an unfinished manifest block (%lld bytes) off \"%s\"",
				   p, (long long) (size - valid_end), path);
		if (!mf_truncate(path, valid_end, err, sizeof(err)))
			ok = false;
	}
	ok = ok && mf_redo(opt->dir, tmp_dir, &lb.b, path, err, sizeof(err));
	parts[p].next = lb.any ? lb.b.last + 1 : -1;
	parts[p].known = ok;
	for (int i = 0; i < lb.b.nfiles; i++)
		free(lb.b.files[i].file);
	free(lb.b.files);
	return ok;
}

/* recover_all recovers every partition with a manifest, then empties .tmp */
static bool
recover_all(void)
{
	DIR		   *d = opendir(manifest_dir);
	struct dirent *e;
	bool		ok = true;

	if (d != NULL)
	{
		while (ok && (e = readdir(d)) != NULL)
		{
			int			p;
			char		tail[8];

			if (sscanf(e->d_name, "partition=%d.cs%1s", &p, tail) == 2 &&
				p >= 0 && p < MAX_PARTITIONS)
				ok = recover_partition(p);
		}
		closedir(d);
	}
	else if (errno != ENOENT)
	{
		seterr(err, sizeof(err), "could not open \"%s\": %s", manifest_dir, strerror(errno));
		return false;
	}
	return ok && af_clear_dir(tmp_dir, err, sizeof(err));
}

/* ------------------------------------------------------------ rolls */

static void
roll_discard(roll *r)
{
	/*
	 * A sealed file may belong to a block whose append reached the disk
	 * although it reported an error: the next start decides, by the
	 * manifest, whether to put it in place or to remove it.
	 */
	for (int i = 0; i < r->nb; i++)
	{
		if (r->b[i].sealed)
			af_free(&r->b[i].f);
		else
			af_discard(&r->b[i].f);
		free(r->b[i].rel);
	}
	free(r->b);
	memset(r, 0, sizeof(*r));
}

static bucket *
roll_bucket(int32_t p, roll *r, int64_t hour, bool dead)
{
	char		tmp[4200];
	bucket	   *b;
	ebuf		header;
	bool		ok;

	for (int i = r->nb - 1; i >= 0; i--)
		if (r->b[i].hour == hour && r->b[i].dead == dead)
			return &r->b[i];
	if (r->nb == r->capb)
	{
		bucket	   *grown = realloc(r->b, sizeof(bucket) * (r->capb ? 2 * r->capb : 4));

		if (grown == NULL)
		{
			seterr(err, sizeof(err), "out of memory");
			return NULL;
		}
		r->b = grown;
		r->capb = r->capb ? 2 * r->capb : 4;
	}
	b = &r->b[r->nb];
	memset(b, 0, sizeof(*b));
	b->hour = hour;
	b->dead = dead;
	snprintf(tmp, sizeof(tmp), "%s/open-p%" PRId32 "-%" PRId64 "-%" PRId64 "%s",
			 tmp_dir, p, r->first, hour, dead ? "-dead" : "");
	ebuf_init(&header);
	ok = dead ? ebuf_puts(&header, DEAD_HEADER) : ev_csv_header(&spec, &header);
	ok = ok && af_open(&b->f, tmp, opt->gzip, header.data, header.len, err, sizeof(err));
	ebuf_free(&header);
	if (!ok)
		return NULL;
	r->nb++;
	return b;
}

/* roll_commit commits p's open roll (see the file comment) */
static bool
roll_commit(int32_t p)
{
	roll	   *r = &parts[p].r;
	mf_block	block = {0};
	char		path[4200],
				sealed[4200];
	bool		ok = true;

	if (!r->open)
		return true;
	block.files = calloc(r->nb, sizeof(mf_entry));
	if (block.files == NULL)
	{
		seterr(err, sizeof(err), "out of memory");
		roll_discard(r);
		return false;
	}
	block.first = r->first;
	block.last = r->last;
	for (int i = 0; ok && i < r->nb; i++)
	{
		bucket	   *b = &r->b[i];

		ok = af_finish(&b->f, err, sizeof(err));
		if (ok && (b->rel = final_rel(p, r, b)) == NULL)
		{
			seterr(err, sizeof(err), "out of memory");
			ok = false;
		}
		if (!ok)
			break;
		mf_sealed_path(tmp_dir, b->rel, sealed, sizeof(sealed));
		if (rename(b->f.tmp_path, sealed) != 0)
		{
			seterr(err, sizeof(err), "could not rename \"%s\": %s", b->f.tmp_path, strerror(errno));
			ok = false;
			break;
		}
		free(b->f.tmp_path);
		b->f.tmp_path = strdup(sealed);
		b->sealed = true;
		block.files[block.nfiles++] = (mf_entry) {b->rel, b->f.rows, b->f.bytes, b->f.crc};
		block.rows += b->f.rows;
	}
	ok = ok && af_fsync_dir(tmp_dir, err, sizeof(err));
	manifest_path(p, path, sizeof(path));
	ok = ok && mf_append(path, &block, err, sizeof(err));
	if (!ok)
	{
		/* not committed (as far as we know): the offsets are read again */
		free(block.files);
		roll_discard(r);
		return false;
	}
	for (int i = 0; ok && i < r->nb; i++)
	{
		char		final[4200];

		snprintf(final, sizeof(final), "%s/%s", opt->dir, r->b[i].rel);
		ok = af_publish(r->b[i].f.tmp_path, final, err, sizeof(err));
	}
	free(block.files);
	if (!ok)
	{
		/* committed: the next start finishes the renames */
		roll_discard(r);
		return false;
	}
	total_files += r->nb;
	for (int i = 0; i < r->nb; i++)
	{
		free(r->b[i].f.tmp_path);	/* renamed: nothing to remove */
		r->b[i].f.tmp_path = NULL;
	}
	parts[p].next = r->last + 1;
	roll_discard(r);

	parts[p].to_commit = true;
	return true;
}

static bool
commit_all(void)
{
	for (int32_t p = 0; p < nparts; p++)
		if (parts[p].r.open && !roll_commit(p))
			return false;
	return true;
}

/* ------------------------------------------------------------ events */

static int64_t
hour_of_ms(int64_t ms)
{
	return ms >= 0 ? ms / 3600000 : -((-ms - 1) / 3600000) - 1;
}

static bool
add_dead(int32_t p, roll *r, const ep_item *it)
{
	rd_kafka_message_t *m = it->msg;
	rd_kafka_timestamp_type_t tstype;
	int64_t		ts = rd_kafka_message_timestamp(m, &tstype);
	bucket	   *b;
	ebuf		row;
	char		num[EV_TIMESTAMP_LEN + 64];
	bool		ok;

	if (ts < 0)
		ts = (int64_t) time(NULL) * 1000;
	if ((b = roll_bucket(p, r, hour_of_ms(ts), true)) == NULL)
		return false;
	ebuf_init(&row);
	snprintf(num, sizeof(num), "%" PRId32 ",%" PRId64 ",", p, m->offset);
	ok = ebuf_puts(&row, num);
	ev_format_timestamptz((ts * 1000) - PG_EPOCH_UNIX_USECS, num);
	ok = ok && ebuf_puts(&row, num) && ebuf_putc(&row, ',') &&
		ebuf_puts(&row, ev_kind_name(it->kind)) && ebuf_putc(&row, ',') &&
		csv_append(&row, it->reason ? it->reason : "", it->reason ? strlen(it->reason) : 0) &&
		ebuf_putc(&row, ',') &&
		(m->key == NULL || csv_append_hex(&row, m->key, m->key_len)) &&
		ebuf_putc(&row, ',') &&
		(m->payload == NULL || csv_append_hex(&row, m->payload, m->len)) &&
		ebuf_putc(&row, '\n');
	if (!ok)
		seterr(err, sizeof(err), "out of memory");
	ok = ok && af_buffer(&b->f, row.data, row.len, 1) &&
		af_flush(&b->f, false, err, sizeof(err));
	r->bytes += row.len;
	ebuf_free(&row);
	total_dead++;
	return ok;
}

/* take_chunk writes a decoded chunk into the rolls; false on a disk error */
static bool
take_chunk(ep_chunk *c)
{
	for (int i = 0; i < c->nitems; i++)
	{
		ep_item    *it = &c->items[i];
		rd_kafka_message_t *m = it->msg;
		int32_t		p;
		part	   *pt;
		roll	   *r;

		if (it->is_error)
		{
			ingest_log("Kafka: %s", it->reason ? it->reason : "error");
			continue;
		}
		p = m->partition;
		if (p < 0 || p >= MAX_PARTITIONS)
			continue;
		pt = &parts[p];
		r = &pt->r;
		/* not ours any more, or already archived (a stale copy) */
		if (!pt->owned || m->offset < (r->open ? r->last + 1 : pt->next))
			continue;
		/* events from many hours: bound the open files by rolling early */
		if (r->open && r->nb >= MAX_BUCKETS && !roll_commit(p))
			return false;
		if (!r->open)
		{
			r->open = true;
			r->first = m->offset;
			r->opened_at = ingest_now();
		}
		r->last = m->offset;
		r->rows++;
		if (it->kind == EV_OK)
		{
			int64_t		hour;
			bucket	   *b;
			size_t		len = it->row_end - it->row_start - sizeof(int64_t);

			memcpy(&hour, c->data.data + it->row_start, sizeof(hour));
			if ((b = roll_bucket(p, r, hour, false)) == NULL ||
				!af_buffer(&b->f, c->data.data + it->row_start + sizeof(hour), len, 1) ||
				!af_flush(&b->f, false, err, sizeof(err)))
			{
				if (err[0] == '\0')
					seterr(err, sizeof(err), "out of memory");
				return false;
			}
			r->bytes += len;
			total_events++;
		}
		else if (!add_dead(p, r, it))
			return false;
		if ((long) r->bytes >= roll_bytes && !roll_commit(p))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ Kafka */

/* partition_count: the topic's partitions from the broker, -1 on error */
static int
partition_count(int timeout_ms)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(kc.rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;
	int			n = -1;

	if (t == NULL)
	{
		seterr(err, sizeof(err), "could not look up topic \"%s\"", topic);
		return -1;
	}
	e = rd_kafka_metadata(kc.rk, 0, t, &md, timeout_ms);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		seterr(err, sizeof(err), "could not read the metadata of topic \"%s\": %s",
			   topic, rd_kafka_err2str(e));
	else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
		seterr(err, sizeof(err), "topic \"%s\": %s", topic,
			   md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
	else
		n = md->topics[0].partition_cnt;
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	if (n > MAX_PARTITIONS)
	{
		seterr(err, sizeof(err), "topic \"%s\" has %d partitions, more than %d", topic, n, MAX_PARTITIONS);
		n = -1;
	}
	return n;
}

/*
 * assign_all assigns the topic's first n partitions from the positions the
 * manifests gave (the pipe is paused or not started)
 */
static bool
assign_all(int n)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
	char		line[1024];
	size_t		len = 0;
	rd_kafka_resp_err_t e;

	for (int32_t p = 0; p < n; p++)
	{
		part	   *pt = &parts[p];
		int64_t		lo,
					hi;
		pt->owned = true;
		pt->high = -1;
		if (rd_kafka_query_watermark_offsets(kc.rk, topic, p, &lo, &hi, 10000) ==
			RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			pt->high = hi;
			/*
			 * Past the end: every message would be taken for an old copy
			 * (and --once would end at once, having archived nothing)
			 */
			if (pt->next > hi)
			{
				seterr(err, sizeof(err), "partition %d: the archive's next offset %" PRId64
					   " is beyond the end of topic \"%s\" (%" PRId64 "): the topic was deleted "
					   "and created again?  This archive holds the old topic's events; archive the "
					   "new topic into a new directory", p, pt->next, topic, hi);
				rd_kafka_topic_partition_list_destroy(list);
				return false;
			}
			/* a new archive starts at the low mark, or at the end */
			if (pt->next < 0 && (lo == hi || start_latest))
				pt->next = start_latest ? hi : lo;
		}
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = pt->next >= 0 ? pt->next :
			start_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
		(void) ep_set_position(kc.pipe, p, pt->next >= 0 ? pt->next : EP_ANY_OFFSET);
		if (len < sizeof(line) - 64)
		{
			if (pt->next >= 0)
				len += (size_t) snprintf(line + len, sizeof(line) - len, "%s%d@%" PRId64,
										 p ? ", " : "", p, pt->next);
			else
				len += (size_t) snprintf(line + len, sizeof(line) - len, "%s%d@%s",
										 p ? ", " : "", p, start_latest ? "latest" : "earliest");
		}
		(void) kc_forward(&kc, topic, p);
	}
	e = rd_kafka_assign(kc.rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		seterr(err, sizeof(err), "could not assign the partitions of topic \"%s\": %s",
			   topic, rd_kafka_err2str(e));
		return false;
	}
	ingest_log("reading partitions %s of topic \"%s\"", n ? line : "(none)", topic);
	nparts = n;
	return true;
}

/* check_partitions picks up partitions added to the topic */
static bool
check_partitions(void)
{
	int			n = partition_count(5000);

	if (n <= nparts)
		return true;			/* unchanged, or the broker is away: later */
	ingest_log("topic \"%s\" grew to %d partitions", topic, n);
	ep_pause(kc.pipe);
	/* chunks not yet taken were dropped: what the rolls hold is complete */
	if (!commit_all())
		return false;
	ep_disown_all(kc.pipe);
	if (!assign_all(n))
		return false;
	ep_resume(kc.pipe);
	return true;
}

/*
 * commit_offsets sends the durable positions to the consumer group, for
 * lag monitoring: one request for every partition that moved (a request
 * per roll would queue up behind each other)
 */
static void
commit_offsets(void)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts > 0 ? nparts : 1);

	for (int32_t p = 0; p < nparts; p++)
		if (parts[p].to_commit)
		{
			rd_kafka_topic_partition_list_add(l, topic, p)->offset = parts[p].next;
			parts[p].to_commit = false;
		}
	if (l->cnt > 0 && rd_kafka_commit_queue(kc.rk, l, commit_q, NULL, NULL) == RD_KAFKA_RESP_ERR_NO_ERROR)
		commits_pending++;
	rd_kafka_topic_partition_list_destroy(l);
}

/* serve_commits counts the answers to offset commits */
static void
serve_commits(int timeout_ms)
{
	rd_kafka_event_t *ev;

	while ((ev = rd_kafka_queue_poll(commit_q, timeout_ms)) != NULL)
	{
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT)
		{
			commits_pending--;
			/* for monitoring only: say so once, and go on */
			if (rd_kafka_event_error(ev) && !commit_warned)
			{
				ingest_log("could not commit offsets to group \"%s\" (%s); the archive is not "
						   "affected, only the group's lag is stale",
						   ingest_get(opt, "group", "ecsync-ingest"),
						   rd_kafka_err2str(rd_kafka_event_error(ev)));
				commit_warned = true;
			}
		}
		rd_kafka_event_destroy(ev);
		timeout_ms = 0;
	}
}

/* serve_consumer_queue: errors and logs; false on a fatal error */
static bool
serve_consumer_queue(void)
{
	rd_kafka_event_t *ev;
	bool		ok = true;

	kc_drain_fd(kc.cq_fd[0]);
	while (ok && (ev = rd_kafka_queue_poll(kc.consumer_q, 0)) != NULL)
	{
		switch (rd_kafka_event_type(ev))
		{
			case RD_KAFKA_EVENT_LOG:
				{
					const char *fac,
							   *str;
					int			level;

					if (rd_kafka_event_log(ev, &fac, &str, &level) == 0 && level <= 4 &&
						strcmp(fac, "FAIL") != 0)
						ingest_log("librdkafka %s: %s", fac, str);
					break;
				}
			case RD_KAFKA_EVENT_ERROR:
				if (rd_kafka_event_error_is_fatal(ev))
				{
					char		fatal[512];

					rd_kafka_fatal_error(kc.rk, fatal, sizeof(fatal));
					seterr(err, sizeof(err), "fatal Kafka error: %s", fatal);
					ok = false;
				}
				else
					ingest_log("Kafka: %s", rd_kafka_event_error_string(ev));
				break;
			default:
				break;
		}
		rd_kafka_event_destroy(ev);
	}
	return ok;
}

static const char *const reserved[] = {
	"kafka.group.id", "kafka.enable.auto.commit", "kafka.enable.auto.offset.store",
	"kafka.enable.partition.eof", "kafka.group.instance.id", NULL
};

static rd_kafka_conf_t *
make_conf(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		errstr[512];

	if (!kc_set_defaults(conf, err, sizeof(err)) ||
		rd_kafka_conf_set(conf, "client.id", "ecsync-ingest", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	for (size_t i = 0; i < opt->cfg->nentries; i++)
	{
		const config_entry *e = &opt->cfg->entries[i];

		if (strncmp(e->key, "kafka.", 6) != 0)
			continue;
		for (int k = 0; reserved[k]; k++)
			if (strcmp(reserved[k], e->key) == 0)
			{
				seterr(err, sizeof(err), "%s (%s) cannot be set: ecsync-ingest manages it "
					   "for exactly-once archiving (the consumer group is the \"group\" setting)",
					   e->key, e->origin);
				rd_kafka_conf_destroy(conf);
				return NULL;
			}
		if (rd_kafka_conf_set(conf, e->key + 6, e->value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		{
			seterr(err, sizeof(err), "%s (%s): %s", e->key, e->origin, errstr);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	if (rd_kafka_conf_set(conf, "group.id", ingest_get(opt, "group", "ecsync-ingest"),
						  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		seterr(err, sizeof(err), "%s", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (start_latest)
		(void) rd_kafka_conf_set(conf, "auto.offset.reset", "latest", errstr, sizeof(errstr));
	rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_LOG);
	return conf;
}

static bool
start_consumer(int threads)
{
	rd_kafka_conf_t *conf = make_conf();

	if (conf == NULL)
		return false;
	if (!kc_start(&kc, conf, &spec, encode_row, threads, err, sizeof(err)))
		return false;
	commit_q = rd_kafka_queue_new(kc.rk);
	{
		int			n = partition_count(10000);

		if (n < 0)
			return false;
		return assign_all(n);
	}
}

/*
 * shutdown_consumer closes the consumer within a bounded time (5 s): it is
 * in no group, but librdkafka's close still waits for the coordinator
 */
static void
shutdown_consumer(void)
{
	if (commit_q)
		rd_kafka_queue_destroy(commit_q);
	commit_q = NULL;
	(void) kc_stop(&kc, 5000);
}

/* drained: --once is done when every owned partition reached its high mark */
static bool
drained(void)
{
	for (int32_t p = 0; p < nparts; p++)
	{
		part	   *pt = &parts[p];
		int64_t		next;

		next = pt->r.open ? pt->r.last + 1 : pt->next;
		if (pt->high < 0)
		{
			int64_t		lo;

			(void) rd_kafka_query_watermark_offsets(kc.rk, topic, p, &lo, &pt->high, 1000);
		}
		if (pt->high < 0 || next < pt->high)
			return false;
	}
	return true;
}

static void
report(double started, uint64_t *last_events, double *last_at, bool final)
{
	double		now = ingest_now();
	int64_t		lag = 0;

	if (opt->quiet && !final)
		return;
	for (int32_t p = 0; p < nparts; p++)
	{
		int64_t		lo,
					hi;

		if (parts[p].owned &&
			rd_kafka_get_watermark_offsets(kc.rk, topic, p, &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			hi > 0)
		{
			int64_t		next = parts[p].r.open ? parts[p].r.last + 1 : parts[p].next;

			lag += next >= 0 && hi > next ? hi - next : 0;
		}
	}
	if (final)
		ingest_log("stream: %" PRIu64 " events and %" PRIu64 " dead letters archived in %.1f s "
				   "(%.0f events/s), %" PRIu64 " files committed",
				   total_events, total_dead, now - started,
				   now > started ? (total_events + total_dead) / (now - started) : 0, total_files);
	else
		ingest_log("stream: %" PRIu64 " events, %.0f/s, %" PRIu64 " dead letters, %" PRIu64
				   " files committed, lag %" PRId64,
				   total_events, (total_events + total_dead - *last_events) / (now - *last_at),
				   total_dead, total_files, lag);
	*last_events = total_events + total_dead;
	*last_at = now;
}

int
stream_archive_run(const ingest_opts *o)
{
	long		threads;
	int			lock_fd;
	char		base[4096];
	double		started,
				last_report,
				last_check,
				last_commit = 0;
	uint64_t	last_events = 0;
	bool		ok = true;
	int			rc = EXIT_OK;
	const char *start;

	opt = o;
	topic = ingest_get(o, "topic", "page_views");
	start = ingest_get(o, "start", "earliest");
	if (strcmp(start, "earliest") != 0 && strcmp(start, "latest") != 0)
	{
		ingest_log("start must be earliest or latest, not \"%s\"", start);
		return EXIT_USAGE;
	}
	start_latest = strcmp(start, "latest") == 0;
	if (!ingest_get_long(o, "roll.bytes", 64L << 20, 1024, 1L << 40, &roll_bytes) ||
		!ingest_get_long(o, "roll.seconds", 300, 1, 86400 * 7, &roll_seconds) ||
		!ingest_get_long(o, "decode.threads", sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1, 1, 8, &threads))
		return EXIT_USAGE;
	{
		long		max_bytes;

		if (!ingest_get_long(o, "max.message.bytes", 1048576, 1, 1L << 30, &max_bytes))
			return EXIT_USAGE;
		spec.max_bytes = (size_t) max_bytes;
	}
	for (const char *s = topic; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || (*s >= 'a' && *s <= 'z') ||
			  (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		{
			ingest_log("\"%s\" is not a valid Kafka topic name", topic);
			return EXIT_USAGE;
		}

	snprintf(tmp_dir, sizeof(tmp_dir), "%s/.tmp/stream-%s", o->dir, topic);
	snprintf(manifest_dir, sizeof(manifest_dir), "%s/%s/_manifest", o->dir, topic);
	if (!af_mkdirs(tmp_dir, err, sizeof(err)) || !af_mkdirs(manifest_dir, err, sizeof(err)))
	{
		ingest_log("%s", err);
		return EXIT_RUNTIME;
	}
	snprintf(base, sizeof(base), "stream-%s", topic);
	if ((lock_fd = ingest_lock(o->dir, base)) < 0)
		return EXIT_RUNTIME;
	for (int32_t p = 0; p < MAX_PARTITIONS; p++)
		parts[p].next = -1;
	if (!recover_all())
	{
		ingest_log("%s", err);
		close(lock_fd);
		return EXIT_RUNTIME;
	}
	ingest_log("archiving topic \"%s\" into %s (group %s, %ld decoding threads, roll at %ld bytes or %ld s%s)",
			   topic, o->dir, ingest_get(o, "group", "ecsync-ingest"), threads, roll_bytes,
			   roll_seconds, o->gzip ? ", gzip" : "");
	if (!start_consumer((int) threads))
	{
		ingest_log("%s", err);
		shutdown_consumer();
		close(lock_fd);
		return EXIT_RUNTIME;
	}

	started = last_report = last_check = ingest_now();
	while (ok && !ingest_stop)
	{
		struct pollfd fds[3] = {
			{kc.cq_fd[0], POLLIN, 0}, {kc.notify_fd[0], POLLIN, 0}, {o->wake_fd, POLLIN, 0}
		};
		ep_chunk   *c;
		double		now;

		ok = serve_consumer_queue();
		serve_commits(0);
		kc_drain_fd(kc.notify_fd[0]);
		while (ok && (c = ep_take(kc.pipe)) != NULL)
		{
			ok = take_chunk(c);
			ep_chunk_free(c);
		}
		now = ingest_now();
		for (int32_t p = 0; ok && p < nparts; p++)
		{
			roll	   *r = &parts[p].r;

			if (r->open && ((long) r->bytes >= roll_bytes || now - r->opened_at >= roll_seconds))
				ok = roll_commit(p);
		}
		if (now - last_commit >= 1)
		{
			commit_offsets();
			last_commit = now;
		}
		if (ok && now - last_check >= 30)
		{
			ok = check_partitions();
			last_check = now;
		}
		if (!ok)
			break;
		if (now - last_report >= 2)
			report(started, &last_events, &last_report, false);
		if (o->once && drained())
			break;
		(void) poll(fds, 3, 200);
	}
	if (ok)
		ok = commit_all();
	else
	{
		/* a failed roll is not committed: its offsets are read again next time */
		for (int32_t p = 0; p < nparts; p++)
			roll_discard(&parts[p].r);
	}
	if (!ok)
	{
		ingest_log("%s", err);
		rc = EXIT_RUNTIME;
	}
	if (ingest_stop)
		ingest_log("stopping on a signal: everything read so far is committed");
	report(started, &last_events, &last_report, true);
	/* let the last offset commits reach the group (for monitoring): 3 s at most */
	commit_offsets();
	for (double give_up = ingest_now() + 3; commits_pending > 0 && ingest_now() < give_up;)
		serve_commits(50);
	shutdown_consumer();
	close(lock_fd);
	return rc;
}
