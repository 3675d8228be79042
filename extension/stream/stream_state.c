/*-------------------------------------------------------------------------
 *
 * stream_state.c
 *	  The small functions on the stream worker's state alone (see
 *	  stream_state.h): a partition's PartState, the broker's watermarks as
 *	  the consumer last saw them, the wait for events, the idle report.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "stream_state.h"

/* stream_part: the state of partition p, made on first use */
PartState *
stream_part(StreamWorker *w, int32 p)
{
	if (p < 0)
		elog(ERROR, "invalid Kafka partition %d", p);
	if (p >= w->nparts)
	{
		int32		n = p + 16;

		w->parts = w->parts ? repalloc(w->parts, sizeof(PartState) * n) :
			MemoryContextAlloc(TopMemoryContext, sizeof(PartState) * n);
		for (int32 i = w->nparts; i < n; i++)
		{
			memset(&w->parts[i], 0, sizeof(PartState));
			w->parts[i].next = -1;
			w->parts[i].batch_last = -1;
			w->parts[i].written_hw = -1;
			w->parts[i].written_rate = -1;
		}
		w->nparts = n;
	}
	return &w->parts[p];
}

/* the broker's watermarks of partition p, as last seen (-1: unknown) */
void
stream_watermarks(StreamWorker *w, int32 p, int64 *low, int64 *high)
{
	int64_t		lo,
				hi;

	*low = *high = -1;
	if (rd_kafka_get_watermark_offsets(w->kc.rk, w->cfg.topic, p, &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		hi >= 0)
	{
		*low = lo >= 0 ? lo : -1;
		*high = hi;
	}
}

/* stream_wait_for_events sleeps until a chunk, a consumer event, a signal or timeout_ms */
void
stream_wait_for_events(StreamWorker *w, long timeout_ms)
{
	WaitEvent	events[4];

	(void) WaitEventSetWait(w->wes, timeout_ms, events, 4, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	kc_drain_fd(w->kc.notify_fd[0]);
	CHECK_FOR_INTERRUPTS();
}

void
stream_report_idle(StreamWorker *w)
{
	StringInfoData s;
	int			n = 0;

	initStringInfo(&s);
	appendStringInfo(&s, "waiting for events of %s, partitions ", w->cfg.topic);
	for (int32 p = 0; p < w->nparts; p++)
		if (w->parts[p].owned)
			appendStringInfo(&s, "%s%d", n++ ? "," : "", p);
	if (n == 0)
		appendStringInfoString(&s, "(none assigned)");
	pgstat_report_activity(STATE_IDLE, s.data);
	pfree(s.data);
}
