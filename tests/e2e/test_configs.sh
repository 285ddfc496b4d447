# Every experiment shipped in configs/ must stay valid: a dry run parses it,
# resolves its dataset and components, validates every parameter value and
# prints the plan, without building or writing anything.
source "$(dirname "$0")/lib.sh"
listing=$("$CANNOLI" list)
for cfg in configs/*.yaml; do
  missing=""
  for ix in $(sed -n 's/^ *index: *\([a-z0-9_]*\).*/\1/p' "$cfg" | sort -u); do
    grep -q "^  $ix " <<<"$listing" || missing="$missing $ix"
  done
  if [ -n "$missing" ]; then echo "skip $cfg: this build lacks$missing"; continue; fi
  ds=$(sed -n 's/^dataset: *\([^ #]*\).*/\1/p' "$cfg")
  if [ -n "$ds" ] && ! "$CANNOLI" info "$ds" >/dev/null 2>&1; then
    case "$ds" in synth-*) ;; *) echo "skip $cfg: dataset $ds not available here"; continue ;; esac
  fi
  if "$CANNOLI" run "$cfg" --dry-run --out "$WORK/dry" >"$WORK/plan.txt" 2>"$WORK/err.txt"; then
    if grep -q "search points" "$WORK/plan.txt" && [ ! -e "$WORK/dry/results.csv" ]; then
      ok "$cfg: valid, $(grep -c 'search points' "$WORK/plan.txt") build points planned"
    else
      not_ok "$cfg: dry run printed no plan or wrote a CSV"; cat "$WORK/plan.txt"
    fi
  else
    not_ok "$cfg: $(tail -1 "$WORK/err.txt")"
  fi
done
finish
