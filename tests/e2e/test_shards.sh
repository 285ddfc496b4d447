# Shards on one machine (issue 12), no Slurm: `cannoli plan --shards 3`
# lists every build point once (the graph shared by quantizers kept
# together); three `run --shard K/3` started at once and appending to one
# results file give exactly the rows of the unsharded run (same keys, same
# recall: builds are single-threaded and seeded), one header, whole rows, no
# point twice; `--shard auto` maps Slurm array ids from 0 and from 1; shards
# that wrote separate folders are joined by `cannoli merge`, which reports
# duplicate points, lists points missing from the config and refuses other
# columns; two unsharded runs at once never write a point twice and share
# the index cache (one builds, the other waits and loads).
source "$(dirname "$0")/lib.sh"
need_fixtures "${SIFT10K[@]}"

CFG="$WORK/sweep.yaml"
sweep_config "$CFG"
export OMP_NUM_THREADS=1

# ---- the plan ---------------------------------------------------------------
"$CANNOLI" plan "$CFG" --shards 3 >"$WORK/plan.txt" 2>"$WORK/plan.err" \
  && ok "plan --shards 3" || { not_ok "plan failed"; cat "$WORK/plan.err"; }
cat "$WORK/plan.txt"
[ "$(grep -c '^  [-+] ' "$WORK/plan.txt")" -eq 7 ] && ok "7 build points listed once" \
  || not_ok "build points in the plan: $(grep -c '^  [-+] ' "$WORK/plan.txt")"
[ "$(grep -c '^shard [123]/3: ' "$WORK/plan.txt")" -eq 3 ] && ok "3 shards listed" || not_ok "shards"
grep -q '^expected makespan: shard [123], ' "$WORK/plan.txt" && ok "makespan printed" || not_ok "no makespan"
# the M=8 graph and the quantizers searched over it: one shard
awk '/^shard/{s=$2} /M=8;ef_construction=40;(build_on=original;)?seed/{print s}' "$WORK/plan.txt" \
  | sort -u >"$WORK/m8.txt"
[ "$(wc -l <"$WORK/m8.txt")" -eq 1 ] && ok "points sharing the M=8 graph are in one shard" \
  || not_ok "shared graph split over shards: $(tr '\n' ' ' <"$WORK/m8.txt")"
"$CANNOLI" plan "$CFG" --shards 3 | cmp -s - "$WORK/plan.txt" && ok "the plan is deterministic" \
  || not_ok "plan differs between calls"
expect_fail "plan --shards 0" "--shards must be an integer" -- "$CANNOLI" plan "$CFG" --shards 0
expect_fail "run --shard 4/3" "--shard '4/3'" -- "$CANNOLI" run "$CFG" --shard 4/3
expect_fail "--shard auto outside Slurm" "SLURM_ARRAY_TASK_ID is not set" -- \
  env -u SLURM_ARRAY_TASK_ID "$CANNOLI" run "$CFG" --shard auto
expect_fail "--force with --shard" "--force cannot go with --shard" -- \
  "$CANNOLI" run "$CFG" --shard 1/3 --force --out "$WORK/x"

# ---- the reference: unsharded ----------------------------------------------
"$CANNOLI" run "$CFG" --out "$WORK/ref" --cache-dir "$WORK/cache-ref" 2>"$WORK/ref.log" \
  && ok "unsharded run" || { not_ok "unsharded run"; cat "$WORK/ref.log"; }

# same_rows LABEL CSV: the keys of CSV are those of the reference, once each,
# with the same recall.
same_rows() { same_rows_as "$1" "$2" "$WORK/ref/results.csv"; }
same_rows "reference has the 20 points" "$WORK/ref/results.csv"

# ---- three shards at once, one results file, one cache -------------------
S="$WORK/shared"
pids=()
for k in 1 2 3; do
  ( date +%s.%N >"$WORK/start$k"
    "$CANNOLI" run "$CFG" --shard $k/3 --out "$S" --cache-dir "$WORK/cache" 2>"$WORK/shard$k.log"
    echo $? >"$WORK/rc$k"; date +%s.%N >"$WORK/end$k" ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for k in 1 2 3; do
  [ "$(cat "$WORK/rc$k")" = 0 ] && ok "shard $k/3 succeeded" || { not_ok "shard $k/3 failed"; cat "$WORK/shard$k.log"; }
  n=$(grep -c "^  [-+] " <(awk -v s="$k/3:" '$1=="shard"{on=($2==s)} on' "$WORK/plan.txt"))
  grep -q "cannoli: shard $k/3: $n of 7 build points" "$WORK/shard$k.log" \
    && ok "shard $k/3 ran its $n build points from the plan" \
    || { not_ok "shard $k/3: not the plan's $n points"; grep "shard $k/3" "$WORK/shard$k.log"; }
done
python3 -c "
import sys
s = [float(open('$WORK/start%d' % k).read()) for k in (1, 2, 3)]
e = [float(open('$WORK/end%d' % k).read()) for k in (1, 2, 3)]
sys.exit(0 if max(s) < min(e) else 1)" && ok "the three shards ran at the same time" \
  || not_ok "shards did not overlap"
same_rows "3 concurrent shards = the unsharded run (keys, recall; no point twice)" "$S/results.csv"
"$CANNOLI" run "$CFG" --out "$S" --cache-dir "$WORK/cache" 2>"$WORK/after.log" \
  && grep -q "0 rows written, 20 already present" "$WORK/after.log" \
  && ok "an unsharded rerun finds every shard's rows" || { not_ok "resume across shards"; tail -3 "$WORK/after.log"; }

# ---- --shard auto from a Slurm array, ids from 0 ----------------------------
A="$WORK/auto"
for id in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=3 \
    "$CANNOLI" run "$CFG" --shard auto --out "$A" --cache-dir "$WORK/cache" 2>"$WORK/auto$id.log" \
    || { not_ok "auto task $id"; cat "$WORK/auto$id.log"; }
  grep -q "cannoli: shard $((id + 1))/3: " "$WORK/auto$id.log" && ok "array task $id (from 0) is shard $((id + 1))/3" \
    || not_ok "task $id mapping: $(grep 'shard' "$WORK/auto$id.log")"
done
same_rows "--shard auto over tasks 0..2 = the unsharded run" "$A/results.csv"

# ---- separate folders joined by merge ---------------------------------------
for k in 1 2 3; do
  "$CANNOLI" run "$CFG" --shard $k/3 --out "$WORK/sep$k" --cache-dir "$WORK/cache" 2>"$WORK/sep$k.log" \
    || { not_ok "separate shard $k"; cat "$WORK/sep$k.log"; }
done
"$CANNOLI" merge "$WORK/sep1" "$WORK/sep2" "$WORK/sep3" --config "$CFG" --out "$WORK/m" --no-plot \
  2>"$WORK/merge.log" && ok "merge of 3 folders" || { not_ok "merge failed"; cat "$WORK/merge.log"; }
same_rows "merged separate shards = the unsharded run" "$WORK/m/results.csv"
grep -q "20 rows from 3 files into .*: 20 new, 0 already there, 0 duplicates" "$WORK/merge.log" \
  && ok "merge summary" || { not_ok "merge summary"; cat "$WORK/merge.log"; }
! grep -q "missing" "$WORK/merge.log" && ok "no point missing" || not_ok "missing reported"
# merging again adds nothing; a folder given twice is reported as duplicates
"$CANNOLI" merge "$WORK/sep1" "$WORK/sep1" --config "$CFG" --out "$WORK/m" --no-plot 2>"$WORK/merge2.log" \
  && grep -q "duplicate point" "$WORK/merge2.log" && grep -q ": 0 new, .* already there, [1-9][0-9]* duplicates" "$WORK/merge2.log" \
  && ok "duplicates reported, nothing added twice" || { not_ok "duplicates"; cat "$WORK/merge2.log"; }
same_rows "after a second merge: still each point once" "$WORK/m/results.csv"
# a shard missing: its points listed
"$CANNOLI" merge "$WORK/sep1" "$WORK/sep2" --config "$CFG" --out "$WORK/m2" --no-plot 2>"$WORK/merge3.log" \
  && ok "merge without shard 3 succeeds" || { not_ok "partial merge"; cat "$WORK/merge3.log"; }
n3=$(($(wc -l <"$WORK/sep3/results.csv") - 1))
grep -q "merge: $n3 points\? of .* in no input" "$WORK/merge3.log" \
  && [ "$(grep -c 'merge: missing: ' "$WORK/merge3.log")" -eq "$n3" ] \
  && ok "the $n3 points of shard 3 are listed as missing" || { not_ok "missing list"; cat "$WORK/merge3.log"; }
# the usual place: results/<name>/ of the config, relative to the working folder
( cd "$WORK" && "$CANNOLI" merge sep1 sep2 sep3 --config "$CFG" --no-plot 2>"$WORK/merge4.log" ) \
  && same_rows "merge without --out writes results/<name>/results.csv" "$WORK/results/sweep/results.csv" \
  || { not_ok "merge to results/<name>"; cat "$WORK/merge4.log"; }
# other columns, a missing folder, no config nor --out
mkdir -p "$WORK/bad"; printf 'a,b\n1,2\n' >"$WORK/bad/results.csv"
expect_fail "merge of a file with other columns" "bad/results.csv: existing file has other columns" -- \
  "$CANNOLI" merge "$WORK/sep1" "$WORK/bad" --out "$WORK/m3" --no-plot
expect_fail "merge of a missing folder" "nothere: cannot read: No such file" -- \
  "$CANNOLI" merge "$WORK/sep1" "$WORK/nothere" --out "$WORK/m3" --no-plot
mkdir -p "$WORK/empty"
expect_fail "merge of a folder without results" "empty/results.csv: no results file here" -- \
  "$CANNOLI" merge "$WORK/sep1" "$WORK/empty" --out "$WORK/m3" --no-plot
expect_fail "merge without --config or --out" "give --config CONFIG" -- "$CANNOLI" merge "$WORK/sep1"
expect_fail "merge of nothing" "give the shards' result folders" -- "$CANNOLI" merge --out "$WORK/m3"

# ---- two unsharded runs at once: one cache entry each, no point twice ------
D="$WORK/double"
for r in 1 2; do
  "$CANNOLI" run "$CFG" --out "$D" --cache-dir "$WORK/cache-double" 2>"$WORK/double$r.log" &
  pids[$r]=$!
done
wait "${pids[1]}" && wait "${pids[2]}" && ok "two runs at once" || not_ok "a double run failed"
same_rows "two runs at once: each point once" "$D/results.csv"
[ "$(ls "$WORK/cache-double" | grep -c '\.cnidx$')" -eq 7 ] && ok "7 cache entries" \
  || not_ok "cache entries: $(ls "$WORK/cache-double")"
! ls "$WORK/cache-double" | grep -q '\.part' && ok "no temporary cache files left" || not_ok "temp files left"
grep -h "waiting for it" "$WORK/double1.log" "$WORK/double2.log" | head -2
finish
