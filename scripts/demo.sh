#!/usr/bin/env bash
# A narrated walk-through of nlfs for a class or a talk. Each step says what it is about to
# show, then runs its commands, each printed before its output (as `$ command`), and waits for
# Enter when run in a terminal; piped or with NLFS_DEMO_NOPAUSE=1 it runs straight through.
# Pictures it offers are copied out of the mount first, so the links still work after it has
# unmounted: they are kept in NLFS_DEMO_OUT (default: a new directory under /tmp).
# Usage: scripts/demo.sh [MOUNTPOINT]   (needs root or fusermount3)
set -euo pipefail
cd "$(dirname "$0")/.."
NLFS=${NLFS:-} build=''
if [ -z "$NLFS" ]; then
	build=$(mktemp -d)
	NLFS=$build/nlfs
	go build -o "$NLFS" ./cmd/nlfs
fi
# The commands say "nlfs", as a reader would type them: this very binary, first on PATH.
bin=$(mktemp -d)
ln -s "$(readlink -f "$NLFS")" "$bin/nlfs"
export PATH=$bin:$PATH
own_mnt=0
if [ $# -gt 0 ]; then mnt=$1; mkdir -p "$mnt"; else mnt=$(mktemp -d /tmp/nlfs-walk-XXXXXX) own_mnt=1; fi
out=${NLFS_DEMO_OUT:-$(mktemp -d /tmp/nlfs-walk-out-XXXXXX)}
mkdir -p "$out"
# However it ends (a reader that stops early, Ctrl-C): unmount, and remove what it made; the
# pictures' directory stays only if it holds a picture. (Not $# here: a trap that runs inside a
# function sees the function's arguments.)
trap 'nlfs umount "$mnt" >/dev/null 2>&1 || true; [ $own_mnt = 0 ] || rmdir "$mnt" 2>/dev/null; [ -n "${NLFS_DEMO_OUT:-}" ] || rmdir "$out" 2>/dev/null; rm -rf "$bin" $build' EXIT
export d=$mnt

interactive=0
[ -t 0 ] && [ -t 1 ] && [ "${NLFS_DEMO_NOPAUSE:-0}" != 1 ] && interactive=1

# The narration is bold on a terminal, and plain text when the output goes to a file or a pipe.
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; bash -c "$*"; }
pause() { if [ $interactive = 1 ]; then read -r -p "  [Enter] " _; fi; }
# letters shows the first byte of each 4 KiB page of a file of the mount, one letter per page.
letters() { run "fold -b -w 4096 \$d/$1 | cut -c 1 | paste -sd ' '"; }

say "Mount an nlfs with an 8-page store at \$d=$mnt: data is the store, view the remapped pages."
run 'nlfs mount --pages 8 $d'
run 'ls $d'
pause

say "Fill store page i with one letter: A, B, … H (the first byte of each page is shown below)."
run "for c in A B C D E F G H; do head -c 4096 /dev/zero | tr '\\0' \$c; done > \$d/data"
say "A fresh mount shows the identity: the view is data, page for page: one run, one VMA. Its layout reads as a comment that says so."
run 'cat $d/layout'
letters view
run "grep -E '^(layout|runs|vmas):' \$d/status"
pause

say "Reverse the pages. The daemon calls remap_file_pages(2) once per page."
run "echo '7-0' > \$d/layout"
letters view
say "Since Linux 4.0 the kernel emulates the call with one VMA per run: eight now. vmas columns: address range, permissions (s: shared), file offset in hex (store page × 4096), device, inode, file."
run 'cat $d/vmas'
run "grep -E '^(runs|vmas|backend):' \$d/status"
say "Before Linux 4.0 the same view cost one VMA, made nonlinear: the page-table entry of each page away from its linear place (store page N at view page N) kept the page's file offset instead: all eight here, since 7-0 leaves no page in its place. status gives both costs, and map draws them side by side."
run "grep linux_4_0 \$d/status"
pause

say "Pages can repeat: store page 0 at view pages 0, 1 and 2. They are one page, not copies."
run "echo '0*3 3-7' > \$d/layout"
run 'cat $d/layout'
letters view
run "head -c 4096 /dev/zero | tr '\\0' Z | dd of=\$d/view bs=4096 seek=1 conv=notrunc status=none"
say "That wrote view page 1 only; it shows at view pages 0, 1, 2, and in store page 0:"
letters view
letters data
run 'cat $d/map'
pause

say "A bad layout is refused whole; the previous one stays and status says why. This one is refused as it is written, so echo reports it; an error found only at close (a remap past the end of the view) bash would not report, but status always says why."
run "echo '0 1 99' > \$d/layout || true"
run 'cat $d/layout'
run 'grep last_error $d/status'
pause

say "map.svg draws the mapping. A copy outside the mount stays after the unmount:"
run "cp \$d/map.svg $out/map.svg"
say "open file://$out/map.svg in a browser"
pause

say "Unmount."
run 'nlfs umount $d'
