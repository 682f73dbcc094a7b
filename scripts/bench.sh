#!/usr/bin/env bash
# bench.sh: how fast nlfs reads and writes through the kernel, how fast it
# applies a layout, and how much memory its daemon needs. Every figure is the
# median, over the repetitions, of a ratio against a baseline measured in the
# same run, next to it (so a busy machine slows both alike); the result is a
# markdown table (BENCHMARKS.md holds one, with the machine and the date).
#
# Usage: scripts/bench.sh [--check] [--reps N] [apply]
#   --check    exit 1 if a target is missed (otherwise the table only says so)
#   --reps N   repetitions of each measurement, at least 5 (default 5)
#   apply      only nlfs apply against cp (section 4: a minute, 1 GiB of memory)
#
# Needs root (nlfs mounts with mount(2) as root, and the page cache is
# dropped; not for apply alone), /dev/fuse, Go, dd, awk and GNU time
# (package time), and about 9 GiB of free memory (a
# 1 GiB source in /dev/shm and a 1 GiB store, later a 4 GiB store, and the
# go-fuse ceiling's 1 GiB).
# A full run takes three to six minutes. Mounts and files are removed on exit,
# however it exits.
set -euo pipefail

reps=5
check=0
only=""
while (($#)); do
	case $1 in
	--check) check=1 ;;
	apply) only=$1 ;;
	--reps)
		reps=${2:?--reps needs a number}
		shift
		;;
	-h | --help)
		sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench.sh: unknown argument $1 (see --help)" >&2
		exit 2
		;;
	esac
	shift
done
if ((reps < 5)); then
	echo "bench.sh: --reps $reps: want at least 5" >&2
	exit 2
fi
if [[ $(id -u) != 0 && $only != apply ]]; then
	echo "bench.sh: run it as root: it mounts nlfs with mount(2) and drops the page cache" >&2
	exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/nlfs-bench.XXXXXX)
src=/dev/shm/nlfs-bench-$$.src
mnt=$work/mnt
nlfs=$work/nlfs
applysrc=/dev/shm/nlfs-bench-$$.apply
applyout=/dev/shm/nlfs-bench-$$.out
mounted=0
cleanup() {
	if ((mounted)); then
		"$nlfs" umount "$mnt" >/dev/null 2>&1 || umount -l "$mnt" 2>/dev/null || true
	fi
	rm -f "$src" "$applysrc" "$applyout"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$mnt" "$work/res"

log() { printf '%s\n' "$*" >&2; }

# ddsecs ARGS...: run dd, print the seconds it reports.
ddsecs() {
	LC_ALL=C dd "$@" 2>&1 >/dev/null | awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1) }'
}
# secs CMD...: run a command, print the seconds it took.
secs() {
	local t0 t1
	t0=$(date +%s%N)
	"$@"
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
}
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
# record KEY VALUE: keep a value of a measurement.
record() { echo "$2" >>"$work/res/$1"; }
median() {
	sort -g "$work/res/$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The table: row NAME NLFS BASELINE RATIO TARGET (TARGET is ">=x", "<=x" or "").
missed=0
row() {
	local verdict=""
	if [[ -n $5 ]]; then
		if awk -v r="$4" -v t="$5" 'BEGIN { op = substr(t, 1, 2); v = substr(t, 3) + 0; exit !((op == ">=" && r >= v) || (op == "<=" && r <= v)) }'; then
			verdict="ok"
		else
			verdict="**missed**"
			missed=1
		fi
	fi
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "${5:-–}" "$verdict"
}
gbs() { awk -v s="$1" -v b="${2:-$gib}" 'BEGIN { printf "%.2f GB/s", b / s / 1e9 }'; }
r2() { awk -v r="$1" 'BEGIN { printf "%.2f", r }'; }
# mount_nlfs ARGS...: mount nlfs on $mnt; $pid is its daemon.
mount_nlfs() {
	"$nlfs" mount "$@" "$mnt" >"$work/mount.out"
	mounted=1
	pid=$(sed -n 's/.*daemon pid \([0-9]*\).*/\1/p' "$work/mount.out")
}
umount_nlfs() {
	"$nlfs" umount "$mnt" >/dev/null
	mounted=0
}
status_of() { awk -F': ' -v k="$1" '$1 == k { print $2 }' "$mnt/status"; }

log "bench: building nlfs"
(cd "$repo" && go build -o "$nlfs" ./cmd/nlfs)

gib=1073741824
pages=262144 # 1 GiB of 4 KiB pages

# bench_apply: nlfs apply of a 512 MiB file of random bytes in /dev/shm into
# /dev/shm, the identity, a shuffle and the reverse of its 131,072 pages,
# against cp of the same file in the same repetition; the output is removed
# before each, and the peak resident memory of each is kept (GNU time's %M).
bench_apply() {
	head -c $((gib / 2)) /dev/urandom >"$applysrc"
	"$nlfs" layout gen identity $((pages / 2)) >"$work/apply-identity.layout"
	"$nlfs" layout gen shuffle $((pages / 2)) 1 >"$work/apply-shuffle.layout"
	"$nlfs" layout gen reverse $((pages / 2)) >"$work/apply-reverse.layout"
	local rep name a c
	for rep in $(seq "$reps"); do
		log "bench: nlfs apply and cp of 512 MiB, repetition $rep/$reps"
		rm -f "$applyout"
		c=$(secs /usr/bin/time -o "$work/rss" -f %M cp "$applysrc" "$applyout")
		record cp "$c"
		record rss-cp "$(cat "$work/rss")"
		for name in identity shuffle reverse; do
			rm -f "$applyout"
			a=$(secs /usr/bin/time -o "$work/rss" -f %M "$nlfs" apply --layout "$work/apply-$name.layout" --source "$applysrc" -o "$applyout")
			record "apply-$name" "$a"
			record "rss-apply-$name" "$(cat "$work/rss")"
			record "ratio-apply-$name" "$(awk -v a="$a" -v c="$c" 'BEGIN { print a / c }')"
		done
	done
	rm -f "$applysrc" "$applyout"
}
# apply_rows: the table's rows for bench_apply.
apply_rows() {
	local name target
	for name in identity shuffle reverse; do
		target="<=2"
		[[ $name == identity ]] && target="<=1.25"
		row "nlfs apply, 512 MiB, $name (time)" "$(printf '%.2f s' "$(median "apply-$name")")" "$(printf '%.2f s' "$(median cp)") (cp)" "$(r2 "$(median "ratio-apply-$name")")" "$target"
	done
	for name in identity shuffle reverse; do
		row "nlfs apply, 512 MiB, $name (peak resident memory, the source's mapped pages included)" "$(($(median "rss-apply-$name") / 1024)) MiB" "$(($(median rss-cp) / 1024)) MiB (cp)" "" ""
	done
}
# header: the lines above the table.
header() {
	echo "nlfs benchmarks: $(date -u '+%Y-%m-%d %H:%M UTC'), $reps repetitions"
	echo "machine: $(awk -F': ' '/^model name/ { m = $2 } END { print m }' /proc/cpuinfo), $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo); $(uname -srm)"
	echo "command: scripts/bench.sh$( ((check)) && echo ' --check')$( ((reps != 5)) && echo " --reps $reps")${only:+ $only}"
	echo
}
if [[ $only == apply ]]; then
	bench_apply
	header
	echo "| figure | nlfs | baseline | ratio | target | |"
	echo "|---|---|---|---|---|---|"
	apply_rows
	if ((check && missed)); then
		echo "bench.sh: a target was missed" >&2
		exit 1
	fi
	exit 0
fi
log "bench: making a 1 GiB source in /dev/shm"
head -c $gib /dev/urandom >"$src"

# The layouts of the read benchmark, over a 1 GiB store.
echo "0-$((pages - 1))" >"$work/identity.layout"
# 60,000 single-page runs at random store pages (no page continues the one
# before it, and none is continued by the long run), then one long run.
awk -v n=$pages -v k=60000 'BEGIN {
	srand(1); prev = -2
	for (i = 0; i < k; i++) {
		do { p = int(rand() * n) } while (p == prev + 1 || p == k)
		printf "%d ", p; prev = p
	}
	printf "%d-%d\n", k, n - 1
}' >"$work/random60k.layout"
"$nlfs" layout gen reverse $pages >"$work/reverse.layout"

# ---- the ceiling: the fastest file go-fuse serves here ----
# internal/bench/ceiling answers every read from one mapped buffer and drops
# every write: nothing nlfs does, only FUSE and go-fuse. It stays mounted for
# the whole run, so that each nlfs read is measured next to it.
log "bench: the go-fuse ceiling"
(cd "$repo" && go build -o "$work/ceiling" ./internal/bench/ceiling)
cmnt=$work/ceiling-mnt
mkdir -p "$cmnt"
"$work/ceiling" "$cmnt" >"$work/ceiling.out" 2>&1 &
cpid=$!
trap 'kill $cpid 2>/dev/null; wait $cpid 2>/dev/null; umount -l "$cmnt" 2>/dev/null; cleanup' EXIT
for _ in $(seq 50); do
	grep -q ready "$work/ceiling.out" && break
	sleep 0.1
done
ceiling_read() { ddsecs if="$cmnt/f" of=/dev/null bs=1M; }

# ---- 1. reading view: cold and repeated ----
# Each repetition mounts afresh and applies the layout, so that the first
# read meets a view the daemon has never read: that is "cold". What is cold
# is the daemon's fresh view mapping, with no page table entries yet (its
# prefaulter maps them in the background as soon as the layout is in force).
# A cold read is measured against the ceiling read right after it; a
# repeated read against the tmpfs file. The page cache is dropped once,
# before the first measurement, not before each read: right after a drop the
# kernel moves every page between its LRU lists on the second access, which
# makes that one read of tmpfs and of nlfs up to twice as slow and measures
# nothing about either. "At once": a second mount, read the moment the
# layout is written, racing the prefaulter.
drop_caches
for name in identity random60k reverse; do
	for rep in $(seq "$reps"); do
		log "bench: read view, $name layout, repetition $rep/$reps"
		mount_nlfs --source "$src"
		dd if="$work/$name.layout" of="$mnt/layout" bs=1M status=none
		now=$(ddsecs if="$mnt/view" of=/dev/null bs=1M)
		umount_nlfs
		record "now-$name" "$now"

		mount_nlfs --source "$src"
		record "apply-mount-$name" "$(secs dd if="$work/$name.layout" of="$mnt/layout" bs=1M status=none)"
		if [[ $name == random60k ]]; then
			# Once more, on a daemon at rest: the moment after a mount it is still mapping
			# the fresh store into its page tables in the background (its prefaulter).
			dd if="$work/identity.layout" of="$mnt/layout" bs=1M status=none
			sleep 2
			record "apply-settled-$name" "$(secs dd if="$work/$name.layout" of="$mnt/layout" bs=1M status=none)"
			sleep 2
		fi
		if ((rep == 1)); then
			echo "$name: $(status_of runs) runs, backend $(status_of backend) ($(status_of backend_reason))" >>"$work/layouts"
		fi
		b1=$(ddsecs if="$src" of=/dev/null bs=1M)
		cold=$(ddsecs if="$mnt/view" of=/dev/null bs=1M)
		ceil=$(ceiling_read)
		warm=$(ddsecs if="$mnt/view" of=/dev/null bs=1M)
		b2=$(ddsecs if="$src" of=/dev/null bs=1M)
		b3=$(ddsecs if="$src" of=/dev/null bs=1M)
		umount_nlfs
		# The tmpfs baseline of a repetition is the median of its three reads.
		base=$(printf '%s\n' "$b1" "$b2" "$b3" | sort -g | sed -n 2p)
		record "base-$name" "$base"
		record "ceil-$name" "$ceil"
		record "cold-$name" "$cold"
		record "warm-$name" "$warm"
		record "ratio-cold-$name" "$(awk -v b="$ceil" -v n="$cold" 'BEGIN { print b / n }')"
		record "ratio-warm-$name" "$(awk -v b="$base" -v n="$warm" 'BEGIN { print b / n }')"
		record "ratio-now-$name" "$(awk -v b="$base" -v n="$now" 'BEGIN { print b / n }')"
	done
done

# ---- 2. data: read and write 1 GiB, against the same tmpfs file and the ceiling ----
# A read (data's pages not cached: each write before it dropped them), the
# same read again (from the page cache), then a write over existing pages on
# both sides (conv=notrunc), which drops every cached page it changes; the
# order of nlfs and tmpfs alternates from one repetition to the next.
mount_nlfs --source "$src"
for rep in $(seq "$reps"); do
	log "bench: data read and write, repetition $rep/$reps"
	for i in 1 2; do
		if (((rep + i) % 2)); then
			record data-read "$(ddsecs if="$mnt/data" of=/dev/null bs=1M)"
			record data-reread "$(ddsecs if="$mnt/data" of=/dev/null bs=1M)"
			record data-write "$(ddsecs if=/dev/zero of="$mnt/data" bs=1M count=1024 conv=notrunc)"
		else
			record base-read "$(ddsecs if="$src" of=/dev/null bs=1M)"
			record base-write "$(ddsecs if=/dev/zero of="$src" bs=1M count=1024 conv=notrunc)"
		fi
	done
	record view-write "$(ddsecs if=/dev/zero of="$mnt/view" bs=1M count=1024 conv=notrunc)"
	cr=$(ceiling_read)
	cw=$(ddsecs if=/dev/zero of="$cmnt/f" bs=1M count=1024 conv=notrunc)
	record ceil-read "$cr"
	record ceil-write "$cw"
	n=$(tail -1 "$work/res/data-read")
	b=$(tail -1 "$work/res/base-read")
	record ratio-data-read "$(awk -v b="$b" -v n="$n" 'BEGIN { print b / n }')"
	record ratio-data-read-ceil "$(awk -v b="$cr" -v n="$n" 'BEGIN { print b / n }')"
	record ratio-data-reread "$(awk -v b="$b" -v n="$(tail -1 "$work/res/data-reread")" 'BEGIN { print b / n }')"
	record ratio-ceil-read "$(awk -v b="$b" -v n="$cr" 'BEGIN { print b / n }')"
	n=$(tail -1 "$work/res/data-write")
	b=$(tail -1 "$work/res/base-write")
	record ratio-data-write "$(awk -v b="$b" -v n="$n" 'BEGIN { print b / n }')"
	record ratio-data-write-ceil "$(awk -v b="$cw" -v n="$n" 'BEGIN { print b / n }')"
	record ratio-ceil-write "$(awk -v b="$b" -v n="$cw" 'BEGIN { print b / n }')"
	record ratio-view-write "$(awk -v b="$b" -v n="$(tail -1 "$work/res/view-write")" 'BEGIN { print b / n }')"
done
umount_nlfs

# ---- 3. applying a layout: View.Apply against a bare remap_file_pages loop ----
log "bench: parse, bare remap loop and apply of 60,001 runs ($reps times)"
benchout=$(cd "$repo" && go test -run '^$' -bench '^BenchmarkPipeline60k$' -benchtime="${reps}x" ./internal/bench/)
metric() { awk -v m="$1" '/^BenchmarkPipeline60k/ { for (i = 1; i < NF; i++) if ($(i + 1) == m) print $i }' <<<"$benchout"; }
apply_ms=$(metric apply-ms)
bare_ms=$(metric bare-ms)
parse_ms=$(metric parse-ms)
apply_ratio=$(metric apply/bare)
parse_ratio=$(metric parse/apply)

# ---- 4. nlfs apply of 512 MiB, against cp of the same file ----
bench_apply

# ---- 5. a 1,048,576-page random permutation of a 4 GiB store: read and memory ----
log "bench: a 1,048,576-page random permutation of a 4 GiB store"
mount_nlfs --pages $((4 * pages))
dd if=/dev/zero of="$mnt/data" bs=1M count=4096 conv=notrunc status=none
"$nlfs" layout gen shuffle $((4 * pages)) 1 >"$work/shuffle.layout"
big_apply=$(secs dd if="$work/shuffle.layout" of="$mnt/layout" bs=1M status=none)
echo "shuffle of 4 GiB: $(status_of runs) runs, backend $(status_of backend) ($(status_of backend_reason))" >>"$work/layouts"
big_backend=$(status_of backend)
big_read=$(ddsecs if="$mnt/view" of=/dev/null bs=1M)
big_ceil=0
for _ in 1 2 3 4; do
	big_ceil=$(awk -v a="$big_ceil" -v b="$(ceiling_read)" 'BEGIN { print a + b }')
done
read -r rss shmem < <(awk '/^VmRSS:/ { r = $2 } /^RssShmem:/ { s = $2 } END { print r, s }' "/proc/$pid/status")
umount_nlfs
beyond_kb=$((rss - shmem))
budget_kb=$(((64 * 1048576 + 16 * 4 * pages) / 1024))

# ---- 6. four named views of 262,144 pages over one 1 GiB store ----
log "bench: four named views of 262,144 pages each"
mount_nlfs --source "$src"
for v in 1 2 3 4; do
	mkdir "$mnt/views/v$v"
	"$nlfs" layout gen shuffle $pages "$v" >"$work/view$v.layout"
	dd if="$work/view$v.layout" of="$mnt/views/v$v/layout" bs=1M status=none
done
for v in 1 2 3 4; do
	echo "views/v$v: $(awk -F': ' '$1 == "runs" { r = $2 } $1 == "backend" { b = $2 } $1 == "backend_reason" { w = $2 } END { print r " runs, backend " b " (" w ")" }' "$mnt/views/v$v/status")" >>"$work/layouts"
	record "named-v$v" "$(ddsecs if="$mnt/views/v$v/view" of=/dev/null bs=1M)"
	record "named-ceil-v$v" "$(ceiling_read)"
done
read -r vrss vshmem < <(awk '/^VmRSS:/ { r = $2 } /^RssShmem:/ { s = $2 } END { print r, s }' "/proc/$pid/status")
umount_nlfs
views_kb=$((vrss - vshmem))
views_budget_kb=$(((64 * 1048576 + 16 * 4 * pages) / 1024))

kill $cpid
wait $cpid || true
trap cleanup EXIT

# ---- the table ----

{
	header
	sed 's/^/    /' "$work/layouts"
	echo
	echo "| figure | nlfs | baseline | ratio | target | |"
	echo "|---|---|---|---|---|---|"
	for name in identity random60k reverse; do
		case $name in
		identity) what="identity layout (1 run)" ;;
		random60k) what="60,000 random single-page runs + 1 long run" ;;
		reverse) what="full reverse (262,144 runs)" ;;
		esac
		row "cold read of view, $what" "$(gbs "$(median "cold-$name")")" "$(gbs "$(median "ceil-$name")") (go-fuse ceiling)" "$(r2 "$(median "ratio-cold-$name")")" ">=0.9"
		row "repeated read of view, $what" "$(gbs "$(median "warm-$name")")" "$(gbs "$(median "base-$name")") (tmpfs file)" "$(r2 "$(median "ratio-warm-$name")")" ">=0.9"
		row "read of view at once after the layout, $what" "$(gbs "$(median "now-$name")")" "$(gbs "$(median "base-$name")") (tmpfs file)" "$(r2 "$(median "ratio-now-$name")")" ""
	done
	row "cold read of a 1,048,576-page shuffle of a 4 GiB store ($big_backend)" "$(gbs "$big_read" $((4 * gib)))" "$(gbs "$big_ceil" $((4 * gib))) (go-fuse ceiling)" "$(r2 "$(awk -v b="$big_ceil" -v n="$big_read" 'BEGIN { print b / n }')")" ">=0.7"
	row "read of data (1 GiB), not cached" "$(gbs "$(median data-read)")" "$(gbs "$(median base-read)") (tmpfs file)" "$(r2 "$(median ratio-data-read)")" ""
	row "read of data, not cached, against the ceiling" "$(gbs "$(median data-read)")" "$(gbs "$(median ceil-read)") (go-fuse ceiling)" "$(r2 "$(median ratio-data-read-ceil)")" ""
	row "repeated read of data (1 GiB)" "$(gbs "$(median data-reread)")" "$(gbs "$(median base-read)") (tmpfs file)" "$(r2 "$(median ratio-data-reread)")" ">=0.9"
	row "write of data (1 GiB over existing pages, all cached)" "$(gbs "$(median data-write)")" "$(gbs "$(median base-write)") (tmpfs file)" "$(r2 "$(median ratio-data-write)")" ""
	row "write of data, against the ceiling" "$(gbs "$(median data-write)")" "$(gbs "$(median ceil-write)") (go-fuse ceiling)" "$(r2 "$(median ratio-data-write-ceil)")" ">=0.7"
	row "go-fuse ceiling: read of a file that does nothing (1 GiB)" "$(gbs "$(median ceil-read)")" "$(gbs "$(median base-read)") (tmpfs file)" "$(r2 "$(median ratio-ceil-read)")" ""
	row "go-fuse ceiling: write of a file that drops it (1 GiB)" "$(gbs "$(median ceil-write)")" "$(gbs "$(median base-write)") (tmpfs file)" "$(r2 "$(median ratio-ceil-write)")" ""
	row "write of view, identity layout (1 GiB)" "$(gbs "$(median view-write)")" "$(gbs "$(median base-write)") (tmpfs file)" "$(r2 "$(median ratio-view-write)")" ""
	row "apply 60,001 runs, remap backend (time)" "$(printf '%.0f ms' "$apply_ms")" "$(printf '%.0f ms' "$bare_ms") (bare remap_file_pages loop)" "$(r2 "$apply_ratio")" "<=1.25"
	row "parse and compile that layout (time)" "$(printf '%.1f ms' "$parse_ms")" "$(printf '%.0f ms' "$apply_ms") (applying it)" "$(awk -v r="$parse_ratio" 'BEGIN { printf "%.3f", r }')" "<=0.1"
	row "write that layout through the mount, daemon at rest (time)" "$(printf '%.0f ms' "$(awk -v s="$(median apply-settled-random60k)" 'BEGIN { print s * 1000 }')")" "$(printf '%.0f ms' "$bare_ms") (bare loop)" "$(r2 "$(awk -v s="$(median apply-settled-random60k)" -v b="$bare_ms" 'BEGIN { print s * 1000 / b }')")" "<=1.1"
	row "write that layout through the mount, at once after mounting (time)" "$(printf '%.0f ms' "$(awk -v s="$(median apply-mount-random60k)" 'BEGIN { print s * 1000 }')")" "$(printf '%.0f ms' "$bare_ms") (bare loop)" "$(r2 "$(awk -v s="$(median apply-mount-random60k)" -v b="$bare_ms" 'BEGIN { print s * 1000 / b }')")" ""
	apply_rows
	row "daemon memory beyond the store, 1,048,576-page permutation, after a full read" "$((beyond_kb / 1024)) MiB" "$((budget_kb / 1024)) MiB (64 MiB + 16 B/page)" "$(awk -v a=$beyond_kb -v b=$budget_kb 'BEGIN { printf "%.2f", a / b }')" "<=1"
	row "layout of that 4 GiB view written through the mount (time)" "$(printf '%.2f s' "$big_apply")" "" "" ""
	for v in 1 2 3 4; do
		row "read of named view views/v$v (a 262,144-page shuffle)" "$(gbs "$(median "named-v$v")")" "$(gbs "$(median "named-ceil-v$v")") (go-fuse ceiling)" "$(r2 "$(awk -v b="$(median "named-ceil-v$v")" -v n="$(median "named-v$v")" 'BEGIN { print b / n }')")" ""
	done
	row "daemon memory beyond the store, four named views of 262,144 pages, after reading each" "$((views_kb / 1024)) MiB" "$((views_budget_kb / 1024)) MiB (64 MiB + 16 B/view page)" "$(awk -v a=$views_kb -v b=$views_budget_kb 'BEGIN { printf "%.2f", a / b }')" "<=1"
}

if ((check && missed)); then
	echo "bench.sh: a target was missed" >&2
	exit 1
fi
