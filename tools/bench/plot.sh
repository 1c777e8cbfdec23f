#!/bin/sh
# Turns trellis-bench --json output (join and footprint results at several
# --sizes) into PNG plots with gnuplot:
#   OUT/join-time.png   join seconds against pinset size, with the raw-copy baseline
#   OUT/join-rss.png    peak RSS of the joiner and RSS of a peer holding the
#                       pinset (footprint-rss, after a full listing) against size
# Needs gnuplot and jq: apt-get install -y gnuplot-nox jq
#
# usage: tools/bench/plot.sh RESULTS.jsonl... [-o OUT]   (OUT: docs/plots)
set -eu
out=docs/plots
files=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) files="$files $1"; shift ;;
  esac
done
[ -n "$files" ] || { echo "usage: $0 RESULTS.jsonl... [-o OUT]" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "$0: needs gnuplot (apt-get install -y gnuplot-nox)" >&2; exit 1; }
command -v jq >/dev/null || { echo "$0: needs jq (apt-get install -y jq)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# pins  value  baseline  [peak RSS MB]  — sorted by size
cat $files | jq -r 'select(.name == "join") | [.pins, .value, .baseline, .peak_rss_mb] | @tsv' |
  sort -n > "$tmp/join.tsv"
cat $files | jq -r 'select(.name == "footprint-rss") | [.pins, .rss_mb, .idle_rss_mb, .rss_anon_mb] | @tsv' |
  sort -n > "$tmp/rss.tsv"
[ -s "$tmp/join.tsv" ] || { echo "$0: no join results in$files" >&2; exit 1; }

gnuplot <<GP
set terminal pngcairo size 800,500 font "sans,10"
set grid
set key top left
set logscale x
set format x "%.0s%c"
set xlabel "pins held by the source peer"

set output "$out/join-time.png"
set title "join: a fresh trellisd peer until it holds the pinset (loopback, durable)"
set ylabel "seconds"
plot "$tmp/join.tsv" using 1:2 with linespoints lw 2 pt 7 title "trellisd join (median)", \
     "$tmp/join.tsv" using 1:3 with linespoints lw 2 pt 5 title "raw copy: TCP + raw LMDB (median)", \
     30 with lines dt 2 lc rgb "red" title "target at 1M pins: 30 s"

set output "$out/join-rss.png"
set title "memory against pinset size"
set ylabel "MB"
plot "$tmp/join.tsv" using 1:4 with linespoints lw 2 pt 7 title "joiner peak RSS (VmHWM)", \
     "$tmp/rss.tsv" using 1:2 with linespoints lw 2 pt 5 title "holding peer RSS after listing all pins", \
     "$tmp/rss.tsv" using 1:3 with linespoints lw 2 pt 9 title "holding peer RSS idle", \
     "$tmp/rss.tsv" using 1:4 with linespoints lw 2 pt 11 title "holding peer heap (RssAnon)"
GP
echo "wrote $out/join-time.png $out/join-rss.png"
