#!/bin/sh
# producer: the web shop's page views, sent to Kafka topic page_views at a
# steady $EVENT_RATE events per second (users of the sample shop at
# $SHOP_SCALE, viewed_at = now)
set -eu
exec pvproduce -b kafka:9092 -t page_views -p 4 -n "${EVENTS:-1000000000}" -r "${EVENT_RATE:-20}" \
	--scale "${SHOP_SCALE:-0.05}" -q
