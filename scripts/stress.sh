#!/usr/bin/env bash
# stress.sh: the fs stress test (TestStress) for a long run: 8 readers of view checking every
# page read is whole and from one layout, 2 writers through data and view, a layout flipper and
# an observer of the generated files, all on one real mount; at the end data must match the
# model of every write, and the serving process's goroutines, descriptors, heap and mappings of
# the store must not have grown. See fs/stress_test.go for the invariant.
#
# Usage: scripts/stress.sh [DURATION] [--race] [--gomaxprocs N]   (DURATION default 5m)
# Prints the test's report line (operations, writes lost, resources before and after) and fails
# if the test fails or an nlfs mount is left behind. The test has its own watchdog: a run that
# overruns its duration by two minutes dumps every goroutine and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

duration=5m race=() procs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--race) race=(-race) ;;
	--gomaxprocs) procs=(env "GOMAXPROCS=${2:?--gomaxprocs needs a number}"); shift ;;
	-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
