#!/usr/bin/env bash
# Extraction benchmark: leakwatch (Rust, scraper/html5ever) beside the
# BeautifulSoup html.parser baseline, on the same real corpus pages with the
# same source definitions. Prints both, then the speed-up.
#   bash benches/extract.sh            (ROUNDS_RUST / ROUNDS_PY to change rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import bs4' 2>/dev/null || pip install --quiet beautifulsoup4
cargo bench --bench extract --no-run -q 2>/dev/null || cargo bench --bench extract --no-run
rust=$(ROUNDS="${ROUNDS_RUST:-20}" cargo bench -q --bench extract)
py=$(ROUNDS="${ROUNDS_PY:-3}" python3 benches/extract_baseline.py)
echo "$rust"
echo
echo "$py"
echo
r=$(echo "$rust" | sed -n 's/^TOTAL rust: \([0-9.]*\) MB\/s, \([0-9]*\) postings.*/\1 \2/p')
p=$(echo "$py" | sed -n 's/^TOTAL python: \([0-9.]*\) MB\/s, \([0-9]*\) postings.*/\1 \2/p')
set -- $r $p
printf '%-24s %10s %14s\n' "" "MB/s (CPU)" "postings/s"
printf '%-24s %10s %14s\n' "leakwatch (Rust)" "$1" "$2"
printf '%-24s %10s %14s\n' "BeautifulSoup html.parser" "$3" "$4"
awk -v a="$1" -v b="$3" 'BEGIN { printf "speed-up: %.1fx\n", a / b }'
