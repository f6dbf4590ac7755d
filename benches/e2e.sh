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
#      GEN       (default ours): "ours" generates with `eligibility generate`, "reference"
#                with the references' ../shared/bench/gen_scale.py (typed Parquet columns,
#                larger dealers)
#      REPEAT    (default 1): runs per tool, alternating; each tool's fastest run is reported
#                (with the highest peak memory of its runs), which evens out a noisy machine
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
GEN=${GEN:-ours}
REPEAT=${REPEAT:-1}
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

# time_it LOG CMD...: runs CMD under /usr/bin/time -v; prints "wall_s rss_mib"
time_it() {
  local log=$1; shift
  if ! /usr/bin/time -v "$@" > "$log.out" 2> "$log"; then
    echo "FAILED - "; tail -3 "$log" >&2; return 0
  fi
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(k=1;k<=n;k++) s=s*60+a[k]; w=s}
              /Maximum resident set size/ {m=$2/1024}
              END {printf "%.1f %.0f\n", w, m}' "$log"
}

# best WALL RSS: keeps the fastest wall time and the highest peak memory in best_w, best_m
best() {
  if [ "$1" = FAILED ]; then best_w=FAILED; best_m=-; return; fi
  [ "$best_w" = FAILED ] && return
  best_w=$(awk -v a="$best_w" -v b="$1" 'BEGIN{print (a=="" || b<a) ? b : a}')
  best_m=$(awk -v a="$best_m" -v b="$2" 'BEGIN{print (a=="" || b>a) ? b : a}')
}

# tool_cmd TOOL X OUT: sets cmd to the command that runs TOOL on extract X, writing to OUT
tool_cmd() {
  case $1 in
    ours+aud) cmd=("$BIN" run --quiet --pipeline "$HERE/pipelines/sample.toml") ;;
    ours) cmd=("$BIN" run --quiet --pipeline "$WORK/like-for-like.toml") ;;
    *) cmd=(python3 "$SHARED/peer_$1.py" --extract "$2" --out "$3" --as-of "$AS_OF"); return ;;
  esac
  cmd+=(--input "$2" --out "$3" --as-of "$AS_OF")
}

rows=()
declare -A W M
for n in $SIZES; do
  for fmt in $FORMATS; do
    case $GEN in
      ours) x="$WORK/x$n-$fmt-s$SEED" ;;
      reference) x="$WORK/r$n-$fmt-s$SEED" ;;
      *) echo "GEN must be ours or reference" >&2; exit 2 ;;
    esac
    if ! ls "$x"/customers.* > /dev/null 2>&1; then
      echo "generating $n customer records ($fmt, $GEN generator) in $x" >&2
      if [ "$GEN" = ours ]; then
        "$BIN" generate --customers "$n" --seed "$SEED" --format "$fmt" --as-of "$AS_OF" --out "$x" > /dev/null
      else
        python3 "$SHARED/gen_scale.py" --customers "$n" --seed "$SEED" --format "$fmt" --as-of "$AS_OF" --out "$x" > /dev/null
      fi
    fi
    gib=$(du -cb "$x"/*."$fmt" | tail -1 | awk '{printf "%.2f", $1/1073741824}')
    tools="ours $PEERS"
    [ "${FULL:-1}" = 1 ] && tools="ours+aud $tools"
    for tool in $tools; do W[$tool]=; M[$tool]=; done
    for _ in $(seq "$REPEAT"); do
      for tool in $tools; do
        echo "running $tool on $x" >&2
        out="$WORK/out-$n-$fmt-$tool"
        rm -rf "$out"
        cat "$x"/*."$fmt" > /dev/null   # every run starts with a warm page cache
        tool_cmd "$tool" "$x" "$out"
        read -r w m < <(time_it "$WORK/$tool-$n-$fmt.log" "${cmd[@]}")
        best_w=${W[$tool]}; best_m=${M[$tool]}; best "$w" "$m"; W[$tool]=$best_w; M[$tool]=$best_m
      done
      if [ "${COMPARE:-0}" = 1 ] && [[ " $PEERS " == *" duckdb "* ]]; then
        python3 "$SHARED/compare.py" "$WORK/out-$n-$fmt-duckdb/as_of=$AS_OF" \
          "$WORK/out-$n-$fmt-ours/as_of=$AS_OF" --fingerprint | tail -1 >&2
      fi
    done
    for tool in $tools; do
      ratio=
      case $tool in ours|ours+aud) ;; *)
        ratio="$(awk -v a="${W[ours]}" -v b="${W[$tool]}" 'BEGIN{if (b>0) printf "%.2f", a/b; else print "-"}')|$(awk -v a="${M[ours]}" -v b="${M[$tool]}" 'BEGIN{if (b>0) printf "%.2f", a/b; else print "-"}')" ;;
      esac
      rows+=("$n|$fmt|$gib|$tool|${W[$tool]}|${M[$tool]}|$ratio")
    done
  done
done

printf "\n%s, %s cores, %s GiB memory; as-of %s, %s generator, seed %s, best of %s\n" \
  "$(uname -m)" "$(nproc)" "$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" \
  "$AS_OF" "$GEN" "$SEED" "$REPEAT"
printf "| %-10s | %-7s | %-9s | %-8s | %8s | %9s | %-12s | %-12s |\n" customers input "input GiB" tool "wall s" "peak MiB" "ours/it time" "ours/it mem"
printf "|%s|\n" "------------|---------|-----------|----------|----------|-----------|--------------|--------------"
for r in "${rows[@]}"; do
  IFS='|' read -r n f g t w m rt rm <<< "$r"
  printf "| %-10s | %-7s | %-9s | %-8s | %8s | %9s | %-12s | %-12s |\n" "$n" "$f" "$g" "$t" "$w" "$m" "${rt:-}" "${rm:-}"
done
