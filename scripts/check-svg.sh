#!/usr/bin/env bash
# check-svg.sh: draw every golden map.svg (layout/render/testdata/*.svg) in headless Chromium and
# fail if a picture does not parse, is not drawn, is unreadable or is blank. Go tests prove the SVG is
# well-formed; only a browser proves it draws. Installs Debian's chromium when missing.
#
# Usage: scripts/check-svg.sh [-o DIR]    (-o keeps the PNG screenshots in DIR to look at)
# Prints one line per file; exits non-zero naming each file that failed.
set -euo pipefail
cd "$(dirname "$0")/.."

out=""
case "${1:-}" in
-o) out=${2:?"-o needs a directory"} ;;
"") ;;
*) echo "usage: $0 [-o DIR]" >&2; exit 2 ;;
esac

browser=""
for b in chromium chromium-browser; do
	if command -v "$b" >/dev/null; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
	echo "check-svg: chromium is missing; installing Debian's chromium"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null
	browser=chromium
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "$out" ] || out=$tmp/png
mkdir -p "$out"
go build -o "$tmp/pngstat" ./scripts/pngstat

shopt -s nullglob
svgs=(layout/render/testdata/*.svg)
if [ ${#svgs[@]} = 0 ]; then
	echo "check-svg: no SVG under layout/render/testdata (run: go test ./layout/render -run TestRenderGolden -update)" >&2
	exit 1
fi

failed=()
for svg in "${svgs[@]}"; do
	name=$(basename "$svg" .svg)
	png=$out/$name.png
	rm -f "$png"
	if ! why=$("$tmp/pngstat" "$svg"); then
		echo "FAIL $svg: ${why#*: }"
		failed+=("$svg")
		continue
	fi
	# A fresh profile per file: nothing cached, nothing shared between runs.
	timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$tmp/profile.XXXXXX")" \
		--screenshot="$png" --window-size=1000,800 "file://$PWD/$svg" >"$tmp/$name.log" 2>&1 || true
	if [ ! -s "$png" ]; then
		echo "FAIL $svg: chromium wrote no screenshot; its last words:"
		tail -n 5 "$tmp/$name.log" | sed 's/^/    /'
		failed+=("$svg")
		continue
	fi
	if ! why=$("$tmp/pngstat" "$png"); then
		echo "FAIL $svg: screenshot ${why#*: }"
		failed+=("$svg")
		continue
	fi
	echo "ok   $svg: ${why#*: }"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "check-svg: ${#failed[@]} of ${#svgs[@]} SVGs failed: ${failed[*]}" >&2
	exit 1
fi
