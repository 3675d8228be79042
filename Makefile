# ecsync top-level Makefile.
#
#   make            build the extension, ecsync-ingest and the test tools
#   make install    install the extension (into PostgreSQL) and ecsync-ingest
#   make run        the main job: start the local stack and load the sample shop
#   make watch      a live view of the stack started by make run (Ctrl-C quits)
#   make stop       stop the stack started by make run
#   make check      install what is missing, start a test stack, run every test
#   make bench      benchmarks against their anchors [GROUP=batch,stream,archive,cdc,mysql] [ROWS=4500000] [EVENTS=2000000]
#   make sanitize   ASan+UBSan builds of ecsync-ingest, the C unit tests and binlogcat
#   make deps       install missing Debian packages and the Kafka broker jars

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
export PG_CONFIG

.PHONY: all extension ingester tools install run watch stop check bench sanitize deps clean

all: extension ingester tools

extension:
	$(MAKE) -C extension

ingester:
	$(MAKE) -C ingester

tools:
	$(MAKE) -C tests/gen

install: all
	$(MAKE) -C extension install
	$(MAKE) -C ingester install

run:
	tests/harness/demo.sh

watch:
	@eval "$$(tests/harness/stack.sh env demo)" && bin/ecsync-watch

stop:
	-@pid=$$(cat .run/demo/producer.pid 2>/dev/null) && kill $$pid 2>/dev/null; rm -f .run/demo/producer.pid
	tests/harness/stack.sh stop demo

check:
	tests/run.sh

bench:
	tests/bench/run.sh

sanitize:
	$(MAKE) -C ingester sanitize
	$(MAKE) -C tests/unit sanitize test_event_pipe-san
	$(MAKE) -C tests/gen sanitize

deps:
	tests/harness/install-deps.sh

clean:
	$(MAKE) -C extension clean
	$(MAKE) -C ingester clean
	$(MAKE) -C tests/gen clean
	$(MAKE) -C tests/unit clean
	$(MAKE) -C tests/fuzz clean
