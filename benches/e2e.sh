#!/usr/bin/env bash
# End-to-end benchmark: the release binary against the two reference implementations of the
# contract in ../shared/bench/ (DuckDB SQL and Python polars), on the same generated extracts,
# in one run. Reports wall time and peak memory (/usr/bin/time -v) and our ratios.
#
#   benches/e2e.sh                      # 1M customer records, CSV and Parquet
#   benches/e2e.sh 1000000 5000000      # several sizes
#
# env: FORMATS   (default "csv parquet")
#      PEERS     (default "duckdb polars"; empty: only ours)
#      SEED      (default 11)      AS_OF (default 2026-11-22)
#      WORK      (default /tmp/eligibility-bench): extracts and outputs, kept between runs
#      COMPARE=1 also check that our output equals the DuckDB reference's (compare.py)
#      FULL      (default 1): also time ours with audiences/ ("ours+aud"); the ratios compare
#                the references with "ours" without audiences, the same work as theirs
#                (eligibility, retention, quarantine, expiring, manifest)
# The references need Python 3 with duckdb, polars, pyarrow and phonenumbers; they are
# installed with pip when missing. Large data stays under $WORK, never in the repository.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$HERE/../shared/bench}
SIZES=${*:-1000000}
FORMATS=${FORMATS:-csv parquet}
PEERS=${PEERS-duckdb polars}
SEED=${SEED:-11}
AS_OF=${AS_OF:-2026-11-22}
WORK=${WORK:-/tmp/eligibility-bench}
mkdir -p "$WORK"
# the same work as the references: no audiences (they have no contact points to write)
printf '[output]\naudiences = false\n' > "$WORK/like-for-like.toml"

cargo build --release --quiet --manifest-path "$HERE/Cargo.toml"
BIN=${CARGO_TARGET_DIR:-$HERE/target}/release/eligibility
if [ -n "$PEERS" ] && ! python3 -c "import duckdb, polars, pyarrow, phonenumbers" 2>/dev/null; then
  pip install --quiet duckdb polars pyarrow phonenumbers
fi

# time_it NAME LOG CMD...: runs CMD under /usr/bin/time -v; prints "wall_s rss_mib"
time_it() {
  local log=$1; shift
  if ! /usr/bin/time -v "$@" > "$log.out" 2> "$log"; then
    echo "FAILED - "; tail -3 "$log" >&2; return 0
  fi
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(k=1;k<=n;k++) s=s*60+a[k]; w=s}
              /Maximum resident set size/ {m=$2/1024}
              END {printf "%.1f %.0f\n", w, m}' "$log"
}

rows=()
for n in $SIZES; do
  for fmt in $FORMATS; do
    x="$WORK/x$n-$fmt"
    if [ ! -f "$x/customers.$fmt" ]; then
      echo "generating $n customer records ($fmt) in $x" >&2
      "$BIN" generate --customers "$n" --seed "$SEED" --format "$fmt" --as-of "$AS_OF" --out "$x" > /dev/null
    fi
    cat "$x"/*."$fmt" > /dev/null   # every tool starts with a warm page cache
    gib=$(du -cb "$x"/*."$fmt" | tail -1 | awk '{printf "%.2f", $1/1073741824}')
    out="$WORK/out-$n-$fmt"
    echo "running ours on $x" >&2
    rm -rf "$out-ours"
    if [ "${FULL:-1}" = 1 ]; then
      rm -rf "$out-full"
      read -r w m < <(time_it "$WORK/full-$n-$fmt.log" "$BIN" run --quiet --pipeline "$HERE/pipelines/sample.toml" \
        --input "$x" --out "$out-full" --as-of "$AS_OF")
      rows+=("$n|$fmt|$gib|ours+aud|$w|$m")
    fi
    read -r w m < <(time_it "$WORK/ours-$n-$fmt.log" "$BIN" run --quiet --pipeline "$WORK/like-for-like.toml" \
      --input "$x" --out "$out-ours" --as-of "$AS_OF")
    rows+=("$n|$fmt|$gib|ours|$w|$m")
    ours_w=$w; ours_m=$m
    for p in $PEERS; do
      echo "running $p on $x" >&2
      rm -rf "$out-$p"
      read -r pw pm < <(time_it "$WORK/$p-$n-$fmt.log" python3 "$SHARED/peer_$p.py" --extract "$x" \
        --out "$out-$p" --as-of "$AS_OF")
      rows+=("$n|$fmt|$gib|$p|$pw|$pm|$(awk -v a="$ours_w" -v b="$pw" 'BEGIN{if (b>0) printf "%.2f", a/b; else print "-"}')|$(awk -v a="$ours_m" -v b="$pm" 'BEGIN{if (b>0) printf "%.2f", a/b; else print "-"}')")
      if [ "${COMPARE:-0}" = 1 ] && [ "$p" = duckdb ]; then
        python3 "$SHARED/compare.py" "$out-duckdb/as_of=$AS_OF" "$out-ours/as_of=$AS_OF" --fingerprint | tail -1 >&2
      fi
    done
  done
done

printf "\n%s, %s cores, %s GiB memory; as-of %s, seed %s\n" "$(uname -m)" "$(nproc)" \
  "$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" "$AS_OF" "$SEED"
printf "| %-10s | %-7s | %-9s | %-8s | %8s | %9s | %-12s | %-12s |\n" customers input "input GiB" tool "wall s" "peak MiB" "ours/it time" "ours/it mem"
printf "|%s|\n" "------------|---------|-----------|----------|----------|-----------|--------------|--------------"
for r in "${rows[@]}"; do
  IFS='|' read -r n f g t w m rt rm <<< "$r"
  printf "| %-10s | %-7s | %-9s | %-8s | %8s | %9s | %-12s | %-12s |\n" "$n" "$f" "$g" "$t" "$w" "$m" "${rt:-}" "${rm:-}"
done
