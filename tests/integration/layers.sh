# The stream worker's parts (extension/stream/) are layers, bottom to top:
#
#   stream_state < stream_catalog < stream_consumer < stream_batch < stream_worker
#
# and so are the change-capture worker's (extension/cdc/):
#
#   cdc_state < cdc_catalog < cdc_apply < cdc_cascade < cdc_worker
#
# (the apply reaches the cascades above it through the state's after_row
# hook, which the worker sets).
# Each part may include, call and use only what is below it, and only the
# entry point (stream_worker.c) names the worker's state, the static sw;
# the parts receive it as an argument.  kafka_options (the FDW's options,
# which the consumer uses) sits below them all and uses none of them.
# These tests read the sources and the built objects: no services are
# needed, but the objects must be built (make -s).

# layer_of NAME: the layer of a file of extension/stream/ or extension/cdc/
# (its name without the extension); empty for a name that is in no layer
layer_of() {
	case $1 in
	cdc_state) echo 1 ;;
	cdc_catalog) echo 2 ;;
	cdc_apply) echo 3 ;;
	cdc_cascade) echo 4 ;;
	cdc_worker) echo 5 ;;
	kafka_options) echo 0 ;;
	stream_state) echo 1 ;;
	stream_catalog) echo 2 ;;
	stream_consumer) echo 3 ;;
	stream_batch) echo 4 ;;
	stream_worker) echo 5 ;;
	esac
}

# layers_include_faults DIR prints a line for every #include "..." of DIR's
# .c and .h that names a header of DIR from a layer above the file's own
# (or of the same layer but not its own header, or of no layer), and for
# every file other than stream_worker.c whose code names sw.  The last
# line counts the includes of DIR's headers that were checked.
layers_include_faults() {
	local dir=$1 f name level line inc iname ilevel lines checked=0
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		name=${name%.*}
		level=$(layer_of "$name")
		if [ -z "$level" ]; then
			echo "$(basename "$f"): in no layer (add it to tests/integration/layers.sh)"
			continue
		fi
		while IFS= read -r line; do
			inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$line")
			# only the headers of the stream folder are layers
			[ -e "$dir/$(basename "$inc")" ] || continue
			checked=$((checked + 1))
			iname=$(basename "$inc" .h)
			ilevel=$(layer_of "$iname")
			if [ -z "$ilevel" ]; then
				echo "$(basename "$f") includes $inc, which is in no layer"
			elif [ "$ilevel" -gt "$level" ]; then
				echo "$(basename "$f") includes $inc, from the layer above it"
			elif [ "$ilevel" -eq "$level" ] && [ "$iname" != "$name" ]; then
				echo "$(basename "$f") includes $inc, another file of its layer"
			fi
		done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
		if [[ $name == stream_* ]] && [ "$(basename "$f")" != stream_worker.c ]; then
			# the code without its comments (their lines kept, for the numbers)
			lines=$(perl -0777 -ne 's{/\*.*?\*/}{(my $c = $&) =~ tr/\n//cd; " $c"}gse; s{//[^\n]*}{}g; print' "$f" |
				grep -nwE 'sw' | cut -d: -f1 | paste -sd, || true)
			[ -z "$lines" ] || echo "$(basename "$f") names the global sw (lines $lines)"
		fi
	done
	echo "checked $checked"
}

# layers_call_faults DIR prints a line for every symbol that an object of
# DIR (one of each .c) takes from another object of DIR that is not in a
# layer below its own, and for a missing or stale object.  The last line
# counts the references between DIR's objects that were checked.
layers_call_faults() {
	local dir=$1 c o name level sym def dlevel checked=0
	declare -A defined_in=()
	for c in "$dir"/*.c; do
		o=${c%.c}.o
		name=$(basename "$c" .c)
		if [ ! -f "$o" ]; then
			echo "$name.o is missing: build first (make -s)"
			continue
		fi
		if [ -n "$(find "$dir" -maxdepth 1 \( -name "$name.c" -o -name '*.h' \) -newer "$o")" ]; then
			echo "$name.o is older than its sources: build first (make -s)"
		fi
		if [ -z "$(layer_of "$name")" ]; then
			echo "$name.o: in no layer (add it to tests/integration/layers.sh)"
			continue
		fi
		while read -r sym; do
			defined_in[$sym]=$name
		done < <(nm -g --defined-only "$o" | awk '{ print $3 }')
	done
	for c in "$dir"/*.c; do
		o=${c%.c}.o
		name=$(basename "$c" .c)
		level=$(layer_of "$name")
		[ -f "$o" ] && [ -n "$level" ] || continue
		while read -r sym; do
			def=${defined_in[$sym]:-}
			[ -n "$def" ] && [ "$def" != "$name" ] || continue
			checked=$((checked + 1))
			dlevel=$(layer_of "$def")
			if [ "$dlevel" -ge "$level" ]; then
				echo "$name.o uses $sym of $def.o, which is not below it"
			fi
		done < <(nm -u "$o" | awk '{ print $2 }')
	done
	echo "checked $checked"
}

# the last line of a check's output ("checked N"), and the faults before it
layers_checked() { tail -n 1 <<<"$1" | sed 's/^checked //'; }
layers_faults() { sed '$d' <<<"$1"; }

test_the_stream_parts_include_only_what_is_below_them() {
	local out
	out=$(layers_include_faults "$ECSYNC_TOP/extension/stream")
	[ -z "$(layers_faults "$out")" ] ||
		fail "includes against the layers of extension/stream:
$(layers_faults "$out")"
	# a check that read no include would pass for ever
	[ "$(layers_checked "$out")" -ge 8 ] ||
		fail "only $(layers_checked "$out") includes of the stream's headers found"
}

test_no_call_runs_upward_in_stream() {
	local out
	out=$(layers_call_faults "$ECSYNC_TOP/extension/stream")
	[ -z "$(layers_faults "$out")" ] ||
		fail "references against the layers of extension/stream:
$(layers_faults "$out")"
	[ "$(layers_checked "$out")" -ge 20 ] ||
		fail "only $(layers_checked "$out") references between the stream's objects found"
}

# both checks find each kind of fault in a folder made to hold them (a
# checker that finds nothing would pass the tests above for ever)
test_the_layer_checks_find_upward_includes_and_calls() {
	local dir out
	dir=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$dir'" EXIT
	cat >"$dir/stream_state.h" <<-'EOF'
	#include "stream_batch.h"
	extern int stream_part(int p);
	EOF
	cat >"$dir/stream_state.c" <<-'EOF'
	#include "stream_state.h"
	extern void stream_ingest_batch(void);
	int stream_part(int p) { stream_ingest_batch(); return p; }
	EOF
	cat >"$dir/stream_catalog.c" <<-'EOF'
	#include "stream_state.h"
	#include "stream_consumer.h"
	struct { int x; } sw;	/* a global of the parts */
	int sc_begin(void) { return stream_part(sw.x); }
	EOF
	printf 'extern void stream_consumer_start(void);\n' >"$dir/stream_consumer.h"
	cat >"$dir/stream_consumer.c" <<-'EOF'
	#include "stream_state.h"
	#include "stream_catalog.h"
	extern int sc_begin(void);
	void stream_consumer_start(void) { sc_begin(); }
	EOF
	printf 'extern void stream_ingest_batch(void);\n' >"$dir/stream_batch.h"
	printf '#include "stream_batch.h"\n#include "stream_worker.h"\nvoid stream_ingest_batch(void) { }\n' >"$dir/stream_batch.c"
	printf '/* the top */\n' >"$dir/stream_worker.h"
	printf '#include "stream_new.h"\n' >"$dir/stream_worker.c"
	: >"$dir/stream_new.h"
	: >"$dir/stream_catalog.h"
	for c in "$dir"/*.c; do
		cc -c -o "${c%.c}.o" "$c" -I"$dir"
	done

	out=$(layers_include_faults "$dir")
	assert_contains "stream_state.h includes stream_batch.h, from the layer above it" "$out" "an upward include in a header"
	assert_contains "stream_catalog.c includes stream_consumer.h, from the layer above it" "$out" "an upward include in a .c"
	assert_contains "stream_batch.c includes stream_worker.h, from the layer above it" "$out" "an include of the top"
	assert_contains "stream_worker.c includes stream_new.h, which is in no layer" "$out" "a header in no layer"
	assert_contains "stream_new.h: in no layer" "$out" "a file in no layer"
	assert_contains "stream_catalog.c names the global sw (lines 3,4)" "$out" "the lines that name sw"
	assert_eq 6 "$(layers_faults "$out" | wc -l)" "six faults, none in the good lines: $out"

	out=$(layers_call_faults "$dir")
	assert_contains "stream_state.o uses stream_ingest_batch of stream_batch.o, which is not below it" "$out" "an upward call"
	[[ $out != *"stream_consumer.o uses"* ]] || fail "a downward call taken for an upward one: $out"
	assert_eq 1 "$(layers_faults "$out" | wc -l)" "one fault: $out"

	# a source newer than its object is reported, not read
	touch -d '+1 minute' "$dir/stream_batch.c"
	out=$(layers_call_faults "$dir")
	assert_contains "stream_batch.o is older than its sources" "$out" "a stale object"
}

test_the_cdc_parts_include_only_what_is_below_them() {
	local out
	out=$(layers_include_faults "$ECSYNC_TOP/extension/cdc")
	[ -z "$(layers_faults "$out")" ] ||
		fail "includes against the layers of extension/cdc:
$(layers_faults "$out")"
	[ "$(layers_checked "$out")" -ge 12 ] ||
		fail "only $(layers_checked "$out") includes of the cdc headers found"
}

test_no_call_runs_upward_in_cdc() {
	local out
	out=$(layers_call_faults "$ECSYNC_TOP/extension/cdc")
	[ -z "$(layers_faults "$out")" ] ||
		fail "references against the layers of extension/cdc:
$(layers_faults "$out")"
	[ "$(layers_checked "$out")" -ge 20 ] ||
		fail "only $(layers_checked "$out") references between the cdc objects found"
}

# folder_faults DIR prints a line for every symbol an object of one folder
# of DIR (the extension: its top and catalog/, mysql/, batch/, cdc/,
# stream/) takes from an object of a folder it may not use, as
# extension/README.md draws them, and ends with "checked N".
folder_faults() {
	local top=$1 o d s f df checked=0
	declare -A def=() allowed=(
		[.]="" [catalog]="." [mysql]=". catalog" [batch]=". catalog mysql"
		[cdc]=". catalog mysql batch" [stream]=". catalog")
	for o in "$top"/*.o "$top"/*/*.o; do
		[ -f "$o" ] || continue
		while read -r s; do def[$s]=$o; done < <(nm -g --defined-only "$o" | awk '{ print $3 }')
	done
	for o in "$top"/*.o "$top"/*/*.o; do
		[ -f "$o" ] || continue
		f=$(dirname "${o#"$top"/}")
		if [ -z "${allowed[$f]+x}" ]; then
			echo "$f/: a folder in no layer (add it to tests/integration/layers.sh and extension/README.md)"
			continue
		fi
		while read -r s; do
			d=${def[$s]:-}
			[ -n "$d" ] || continue
			df=$(dirname "${d#"$top"/}")
			[ "$df" != "$f" ] || continue
			checked=$((checked + 1))
			[[ " ${allowed[$f]} " == *" $df "* ]] ||
				echo "$f/$(basename "$o") uses $s of $df/$(basename "$d"), a folder it may not use"
		done < <(nm -u "$o" | awk '{ print $2 }')
	done
	echo "checked $checked"
}

test_the_extension_folders_use_only_the_folders_below_them() {
	local out
	[ -f "$ECSYNC_TOP/extension/ecsync.so" ] || fail "build first (make -s)"
	out=$(folder_faults "$ECSYNC_TOP/extension")
	[ -z "$(layers_faults "$out")" ] || fail "references across the extension's folders:
$(layers_faults "$out")"
	[ "$(layers_checked "$out")" -ge 30 ] || fail "only $(layers_checked "$out") references across folders found"
	# and the check sees a fault: a catalog/ object that calls into batch/
	local dir
	dir=$(mktemp -d)
	mkdir -p "$dir/catalog" "$dir/batch"
	printf 'void bc_start(void) { }\n' >"$dir/batch/b.c"
	printf 'extern void bc_start(void);\nvoid cat(void) { bc_start(); }\n' >"$dir/catalog/c.c"
	cc -c -o "$dir/batch/b.o" "$dir/batch/b.c" && cc -c -o "$dir/catalog/c.o" "$dir/catalog/c.c"
	out=$(folder_faults "$dir")
	rm -rf "$dir"
	assert_contains "catalog/c.o uses bc_start of batch/b.o, a folder it may not use" "$out" "the folder check finds an upward call"
}
