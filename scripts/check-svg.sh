#!/usr/bin/env bash
# check-svg.sh: draw every golden map.svg (layout/render/testdata/*.svg) and every picture source
# of the documentation (docs/*.svg, see scripts/pictures) in headless Chromium and fail if a
# picture does not parse, is not drawn, is unreadable or is blank: less of its figure (below its
# heading) drawn than its kind of picture covers (scripts/pngstat: small-view figures, large-view
# plots, the empty view). Go tests prove the SVG is well-formed; only a browser proves it draws.
# Then it plants pictures that did not draw — a blank page, a white page with one off-white pixel,
# a figure's heading with no figure — and fails if the check lets any through. Installs Debian's
# chromium when missing.
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
svgs=(layout/render/testdata/*.svg docs/*.svg)
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

# The planted pictures, cut from the golden tlpi.svg, so that they stay valid map.svg documents of
# a small view: each draws (almost) nothing, and must be refused at the screenshot, never before.
# "blank" keeps the page, its background and an empty heading; "speck" adds one off-white pixel,
# which passed an old check (two colours); "heading" keeps the heading, up to where the figure
# starts: a figure whose drawing is lost. A heading alone once drew 1.18% of the page against a
# threshold of 1.40%; below the heading it draws nothing at all.
planted=$tmp/planted
mkdir -p "$planted"
golden=layout/render/testdata/tlpi.svg
heading=$(sed -n '/^<g id="heading">/,/^<\/g>/p' "$golden" | sed -n '2p')
{ sed '/^<g id="heading">/,$d' "$golden"; echo '<g id="heading">'; echo "$heading" | sed 's/>[^<]*</></'; echo '</g>'; echo '</svg>'; } >"$planted/blank.svg"
{ sed '/^<g id="heading">/,$d' "$golden"; echo '<g id="heading">'; echo "$heading" | sed 's/>[^<]*</></'; echo '</g>'
  echo '<rect x="300" y="200" width="1" height="1" fill="#fefefe"/>'; echo '</svg>'; } >"$planted/speck.svg"
{ sed '/^<defs/,$d' "$golden"; echo '</svg>'; } >"$planted/heading.svg"
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
