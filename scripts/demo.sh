#!/usr/bin/env bash
# A narrated walk-through of nlfs for a class or a talk. Each step says what
# it is about to show, runs the commands (echoed), and waits for Enter when
# run in a terminal; piped or with NLFS_DEMO_NOPAUSE=1 it runs straight
# through. Usage: scripts/demo.sh [MOUNTPOINT]   (needs root or fusermount3)
set -euo pipefail
cd "$(dirname "$0")/.."
NLFS=${NLFS:-}
if [ -z "$NLFS" ]; then
	NLFS=$(mktemp -d)/nlfs
	go build -o "$NLFS" ./cmd/nlfs
fi
if [ $# -gt 0 ]; then mnt=$1; mkdir -p "$mnt"; else mnt=$(mktemp -d /tmp/nlfs-walk-XXXXXX); fi
trap '"$NLFS" umount "$mnt" 2>/dev/null || true; [ $# -gt 0 ] || rmdir "$mnt"' EXIT

interactive=0
[ -t 0 ] && [ -t 1 ] && [ "${NLFS_DEMO_NOPAUSE:-0}" != 1 ] && interactive=1

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; bash -c "$*"; }
pause() { if [ $interactive = 1 ]; then read -r -p "  [Enter] " _; fi; }
# letters prints the view as one letter per 4 KiB page.
letters() { for ((i = 0; i < $(($(stat -c %s "$mnt/view") / 4096)); i++)); do
	dd if="$mnt/view" bs=4096 skip=$i count=1 status=none | head -c1; printf ' '; done; echo; }

say "Mount an nlfs with an 8-page store. data is the store, view the remapped pages."
run "$NLFS mount --pages 8 $mnt"
run "ls -l $mnt"
pause

say "Fill store page i with one letter: A, B, … H."
run "for c in A B C D E F G H; do head -c 4096 /dev/zero | tr '\\0' \$c; done > $mnt/data"
say "A fresh mount shows the identity: view = data, one mapping, one VMA."
run "cat $mnt/layout"; letters; run "grep -E '^(runs|vmas):' $mnt/status"
pause

say "Reverse the pages. The daemon calls remap_file_pages(2) once per page."
run "echo '7-0' > $mnt/layout"; letters
say "The kernel emulates the old syscall with one VMA per run: eight now."
run "cat $mnt/vmas"; run "grep -E '^(runs|vmas|backend):' $mnt/status"
pause

say "Pages can repeat: store page 0 at view pages 0, 1, 2. They are one page, not copies."
run "echo '0*3 3-7' > $mnt/layout"; letters
run "printf 'Z%.0s' {1..4096} | dd of=$mnt/view bs=4096 seek=1 conv=notrunc status=none"
say "Written through view page 1 only; it shows at 0, 1, 2, and in data:"
letters; run "head -c 8 $mnt/data; echo"
run "cat $mnt/map"
pause

say "A bad layout is refused whole; the previous one stays and status says why."
run "echo '0 1 99' > $mnt/layout || true"
run "cat $mnt/layout"; run "grep last_error $mnt/status"
pause

say "map.svg draws the mapping; open it in a browser: file://$mnt/map.svg"
run "head -c 300 $mnt/map.svg; echo …"
pause

say "Unmount."
run "$NLFS umount $mnt"
