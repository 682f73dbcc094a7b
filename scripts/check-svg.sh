#!/usr/bin/env bash
# check-svg.sh: draw every golden map.svg (layout/render/testdata/*.svg) in headless Chromium and
# fail if a picture does not parse, is not drawn, is unreadable or is blank: less of the screenshot
# drawn than its kind of picture covers (scripts/pngstat: small-view figures, large-view plots, the
# empty view). Go tests prove the SVG is well-formed; only a browser proves it draws. Then it plants
# pictures that did not draw — a blank page, a white page with one off-white pixel, a figure's
# heading with no figure — and fails if the check lets any through. Installs Debian's chromium when
# missing.
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

# shoot SVG PNG: a screenshot of SVG in a fresh profile (nothing cached, nothing shared between
# runs), in the window pngstat's thresholds are measured in; fails, with Chromium's last words,
# if it wrote none.
shoot() {
	local name
	name=$(basename "$1" .svg)
	rm -f "$2"
	timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$tmp/profile.XXXXXX")" \
		--screenshot="$2" --window-size=1000,800 "file://$(realpath "$1")" >"$tmp/$name.log" 2>&1 || true
	if [ ! -s "$2" ]; then
		echo "chromium wrote no screenshot; its last words:"
		tail -n 5 "$tmp/$name.log" | sed 's/^/    /'
		return 1
	fi
}

failed=()
for svg in "${svgs[@]}"; do
	name=$(basename "$svg" .svg)
	png=$out/$name.png
	if ! why=$("$tmp/pngstat" "$svg"); then
		echo "FAIL $svg: ${why#*: }"
		failed+=("$svg")
		continue
	fi
	if ! why=$(shoot "$svg" "$png"); then
		echo "FAIL $svg: $why"
		failed+=("$svg")
		continue
	fi
	if ! why=$("$tmp/pngstat" -of "$svg" "$png"); then
		echo "FAIL $svg: screenshot ${why#*: }"
		failed+=("$svg")
		continue
	fi
	echo "ok   $svg: ${why#*: }"
done

# The planted pictures: each is a valid map.svg document of a small view that draws (almost)
# nothing, and must be refused at the screenshot, never before. "speck" passed the old check (two
# colours); "heading" is a figure whose drawing is lost, which covers less than a quarter of what
# the least drawn real figure does.
planted=$tmp/planted
mkdir -p "$planted"
head='<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="900" height="313" viewBox="0 0 900 313" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12" fill="#222">
<title>nlfs map: 3 view pages, 3 runs</title>
<rect width="100%" height="100%" fill="#fff"/>'
printf '%s\n</svg>\n' "$head" >"$planted/blank.svg"
printf '%s\n<rect x="450" y="150" width="1" height="1" fill="#fefefe"/>\n</svg>\n' "$head" >"$planted/speck.svg"
printf '%s\n%s\n%s\n</svg>\n' "$head" \
	'<text x="16" y="26" font-size="16" font-weight="bold">nlfs map: 3 view pages, 3 runs</text>' \
	'<text x="16" y="46">data pages: 3 · shown: 3 · aliased: 0 · view pages past data: 0 · VMAs: 3 · backend: remap</text>' \
	>"$planted/heading.svg"
for svg in "$planted"/*.svg; do
	name=planted-$(basename "$svg" .svg)
	png=$out/$name.png
	if ! why=$("$tmp/pngstat" "$svg") || ! why=$(shoot "$svg" "$png"); then
		echo "FAIL $name: did not get as far as its screenshot: ${why#*: }"
		failed+=("$name")
	elif why=$("$tmp/pngstat" -of "$svg" "$png"); then
		echo "FAIL $name: pngstat let a picture that did not draw through: ${why#*: }"
		failed+=("$name")
	else
		echo "ok   $name refused: ${why#*: }"
	fi
done

total=$((${#svgs[@]} + 3))
if [ ${#failed[@]} -gt 0 ]; then
	echo "check-svg: ${#failed[@]} of $total pictures failed: ${failed[*]}" >&2
	exit 1
fi
