/*
 * event_decode.h
 *	  Decoding JSON events (one Kafka message each) into typed column values
 *	  by a mapping, and encoding them for PostgreSQL's binary COPY.  A
 *	  message that cannot be decoded gets a reason instead: the caller
 *	  dead-letters it.  Shared by the extension's stream worker and
 *	  ecsync-ingest.  Plain C and jansson, no PostgreSQL header (jansson's
 *	  json_object clashes with utils/fmgrprotos.h).
 *
 *	  A decoder is used by one thread at a time; a spec is read-only once
 *	  built and may be shared by several decoders.
 */
#ifndef ECSYNC_EVENT_DECODE_H
#define ECSYNC_EVENT_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebuf.h"

/* the PostgreSQL types a mapped column may have */
typedef enum ev_type
{
	EV_SMALLINT,
	EV_INTEGER,
	EV_BIGINT,
	EV_DOUBLE,
	EV_BOOLEAN,
	EV_TEXT,
	EV_TIMESTAMPTZ,
	EV_JSONB
} ev_type;

/* where a column's value comes from */
typedef enum ev_source
{
	EV_FROM_JSON,				/* the event's top-level key */
	EV_FROM_PARTITION,			/* the Kafka partition */
	EV_FROM_OFFSET,				/* the Kafka offset */
	EV_FROM_TIMESTAMP,			/* the Kafka message timestamp */
	EV_FROM_KEY,				/* the Kafka message key, as text */
	EV_FROM_TOPIC				/* the Kafka topic's name */
} ev_source;

/* why a message was dead-lettered (ecsync.dead_letters.kind) */
typedef enum ev_kind
{
	EV_OK = 0,
	EV_EMPTY,					/* no value (a tombstone) */
	EV_TOO_LARGE,
	EV_INVALID_UTF8,
	EV_NOT_JSON,
	EV_NOT_OBJECT,
	EV_MISSING_FIELD,
	EV_WRONG_TYPE,
	EV_OUT_OF_RANGE,
	EV_BAD_TIMESTAMP,
	EV_REJECTED					/* by the target (set by the caller) */
} ev_kind;

typedef struct ev_field
{
	char	   *column;			/* target column */
	char	   *key;			/* EV_FROM_JSON: the key */
	ev_type		type;
	ev_source	source;
	bool		required;		/* EV_FROM_JSON: absent or null is an error */
} ev_field;

typedef struct ev_spec
{
	int			nfields;
	ev_field   *fields;
	size_t		max_bytes;		/* larger messages are EV_TOO_LARGE */
} ev_spec;

/* one Kafka message, as the decoder needs it */
typedef struct ev_msg
{
	const void *payload;		/* NULL for a tombstone */
	size_t		len;
	const void *key;
	size_t		keylen;
	int32_t		partition;
	int64_t		offset;
	int64_t		timestamp_ms;	/* -1 when the message has none */
	const char *topic;			/* NUL-terminated; NULL if unknown */
} ev_msg;

typedef struct ev_decoder ev_decoder;

/* names of types, sources and kinds, as SQL shows them */
extern bool ev_type_from_name(const char *name, ev_type *type);
extern const char *ev_type_name(ev_type type);
extern bool ev_source_from_name(const char *name, ev_source *source);
extern const char *ev_kind_name(ev_kind kind);

/* ev_decoder_new: NULL when out of memory */
extern ev_decoder *ev_decoder_new(const ev_spec *spec);
extern void ev_decoder_free(ev_decoder *d);

/*
 * ev_decoder_jansson_only turns the fast path off (for tests, which check
 * that both paths agree)
 */
extern void ev_decoder_jansson_only(ev_decoder *d);

/*
 * ev_decode decodes m.  EV_OK leaves the values in the decoder until the
 * next call; anything else writes the reason (which names the field) into
 * reason.
 */
extern ev_kind ev_decode(ev_decoder *d, const ev_msg *m,
						 char *reason, size_t reasonlen);

/* ev_encode_binary appends the decoded row as one binary COPY tuple */
extern bool ev_encode_binary(ev_decoder *d, ebuf *out);

/*
 * ev_encode_csv appends the decoded row as one CSV record (csv_write.h),
 * ended by LF: timestamps as "YYYY-MM-DD HH:MM:SS[.ffffff]+00", booleans
 * as t and f, doubles with 17 significant digits, jsonb as its JSON text.
 */
extern bool ev_encode_csv(ev_decoder *d, ebuf *out);

/* ev_csv_header appends the spec's column names as a CSV header record */
extern bool ev_csv_header(const ev_spec *spec, ebuf *out);

/* ev_value_int: a decoded integer or timestamp field; false when NULL */
extern bool ev_value_int(ev_decoder *d, int field, int64_t *value);

/*
 * ev_format_timestamptz writes usecs (since 2000-01-01 UTC) as PostgreSQL
 * prints a timestamptz in UTC; buf needs EV_TIMESTAMP_LEN bytes.  Returns
 * the length.
 */
#define EV_TIMESTAMP_LEN 48
extern size_t ev_format_timestamptz(int64_t usecs, char *buf);

/*
 * ev_parse_timestamptz reads an ISO 8601 / RFC 3339 timestamp,
 * "YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|+HH[:MM]|-HH[:MM]]", into
 * microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch).  No zone
 * means UTC.  Fractions beyond microseconds are rounded, as PostgreSQL
 * does.
 */
extern bool ev_parse_timestamptz(const char *s, size_t len, int64_t *usecs);

#endif							/* ECSYNC_EVENT_DECODE_H */
