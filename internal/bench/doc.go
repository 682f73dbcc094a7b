// Package bench holds benchmarks that need both the layout language and the
// remapper, which never import each other: parsing and compiling a layout
// against applying it, and applying it against a bare loop of
// remap_file_pages calls over the same runs. It has no code of its own;
// scripts/bench.sh runs these and prints them with the measurements made
// through a real mount.
package bench
