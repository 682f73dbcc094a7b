#!/usr/bin/env bash
# stress.sh: the fs stress test (TestStress) for a long run, on one real mount: 8 readers of view
# (half by direct I/O, each read checked whole against the layouts in force during it, half through
# read-only descriptors, page by page; no page torn or stale), 2 writers that write pages by write(2)
# through data and view and by stores through writable shared mappings of view and of data flushed
# with msync (mapper client processes), each write checked in the store as soon as it is
# acknowledged, a layout flipper and an observer of the generated files. At the end every page must
# hold the last write the model has for it, no acknowledged write may be lost, and the serving
# process's goroutines, descriptors, heap and mappings of the store must not have grown. See
# fs/stress_test.go for the model.
#
# Usage: scripts/stress.sh [DURATION] [--race] [--gomaxprocs N]   (DURATION default 5m)
# Prints the test's report line (reads, pages checked, writes acknowledged by kind, layouts, writes
# lost, resources before and after) and fails if the test fails or an nlfs mount is left behind.
# The test has its own watchdog: a run that overruns its duration by two minutes dumps every
# goroutine and fails; every command of a mapper client runs under a watchdog that aborts the
# mount's FUSE connection if it hangs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

duration=5m race=() procs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--race) race=(-race) ;;
	--gomaxprocs) procs=(env "GOMAXPROCS=${2:?--gomaxprocs needs a number}"); shift ;;
	-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "stress.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
	*) duration=$1 ;;
	esac
	shift
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c "${race[@]}" -o "$tmp/fs.test" ./fs/
echo "stress: $duration${race:+ with -race}${procs:+ (${procs[1]})}"
set +e
(cd fs && NLFS_STRESS_DURATION=$duration "${procs[@]}" "$tmp/fs.test" \
	-test.run '^TestStress$' -test.count 1 -test.v -test.timeout 0) | tee "$tmp/out"
rc=${PIPESTATUS[0]}
set -e
if grep -E ' fuse\.nlfs ' /proc/self/mountinfo | grep -q "$tmp\|/TestStress"; then
	echo "stress.sh: the test left an nlfs mount behind" >&2
	rc=1
fi
exit "$rc"
