# A sweep as a Slurm job array on a real Slurm (issue 12): starts a
# single-node cluster on this machine (munged with a generated key,
# slurmctld and slurmd with a generated slurm.conf, on free ports, state and
# logs in a temporary folder, all stopped at the end), submits a 3-shard
# sweep with `cannoli slurm ... --submit`, waits for the array and the merge
# job, and checks: every array task ran (its log names its shard) and
# succeeded, tasks ran at the same time, the merged results file has exactly
# the rows of the same config run unsharded (same keys, same recall; builds
# are single-threaded and seeded) with one header and whole rows.
#
# Needs root, munge and slurm-wlm (Debian). Without them the test is skipped
# (exit 77) — except under CI=1 or CN_REQUIRE_SLURM=1, where it fails.
source "$(dirname "$0")/lib.sh"
need_fixtures "${SIFT10K[@]}"

skip_or_fail() {
  if [ "${CI:-0}" = 1 ] || [ "${CN_REQUIRE_SLURM:-0}" = 1 ]; then
    echo "not ok - Slurm is required here (CI=${CI:-} CN_REQUIRE_SLURM=${CN_REQUIRE_SLURM:-}) but $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip_or_fail "not root: a test Slurm (munged, slurmctld, slurmd as SlurmUser=root) needs root"
for b in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$b" >/dev/null || skip_or_fail "$b not found (apt-get install slurm-wlm munge)"
done

# ---- a single-node Slurm in $WORK/slurm ------------------------------------
SL="$WORK/slurm"
mkdir -p "$SL/state" "$SL/spool" "$SL/munge"
chmod 700 "$SL/munge"
DAEMONS=()
stop_all() {
  local p
  for p in "${DAEMONS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${DAEMONS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap stop_all EXIT

dd if=/dev/urandom of="$SL/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$SL/munge/munge.key"
SOCK="$SL/munge/munge.socket"
munged -F --force --socket="$SOCK" --key-file="$SL/munge/munge.key" \
  --pid-file="$SL/munge/munged.pid" --log-file="$SL/munge/munged.log" \
  --seed-file="$SL/munge/munged.seed" 2>"$SL/munge/munged.err" &
DAEMONS+=($!)
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$SL/munge/munged.err" "$SL/munge/munged.log" 2>/dev/null; skip_or_fail "munged did not start"; }

free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }
HOST=$(hostname -s)
NODE=$(slurmd -C | head -n 1) # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
CPUS=$(echo "$NODE" | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
export SLURM_CONF="$SL/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=cannolitest
SlurmctldHost=$HOST
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SL/state
SlurmdSpoolDir=$SL/spool
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd.pid
SlurmctldLogFile=$SL/slurmctld.log
SlurmdLogFile=$SL/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
$NODE State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i -f "$SLURM_CONF" >"$SL/slurmctld.out" 2>&1 &
DAEMONS+=($!)
slurmd -D -f "$SLURM_CONF" >"$SL/slurmd.out" 2>&1 &
DAEMONS+=($!)
state=""
for _ in $(seq 100); do
  state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
if [ "$state" != idle ]; then
  tail -n 20 "$SL/slurmctld.log" "$SL/slurmd.log" "$SL/slurmctld.out" "$SL/slurmd.out" 2>/dev/null
  skip_or_fail "the test Slurm did not come up (node state '$state')"
fi
ok "single-node Slurm up: $HOST, $CPUS CPUs, partition test"

# ---- the sweep ---------------------------------------------------------------
FIXA=$(cd "$FIX" && pwd)
CFG="$WORK/sweep.yaml"
sweep_config "$CFG" "$FIXA"
CANNOLI_ABS=$(cd "$(dirname "$CANNOLI")" && pwd)/$(basename "$CANNOLI")
cd "$WORK" # the scripts' working folder: results/ and results/cache go here

"$CANNOLI_ABS" run "$CFG" --out "$WORK/ref" --cache-dir "$WORK/cache-ref" 2>"$WORK/ref.log" \
  && ok "unsharded reference run" || { not_ok "reference run"; cat "$WORK/ref.log"; }

"$CANNOLI_ABS" slurm "$CFG" --shards 3 --cpus-per-task 1 --time 10 --partition test \
  >"$WORK/submit.txt" 2>"$WORK/submit.err" \
  && ok "cannoli slurm --shards 3 (scripts only)" || { not_ok "cannoli slurm"; cat "$WORK/submit.err"; }
OUT="$WORK/results/sweep"
[ -x "$OUT/slurm/sweep.sbatch" ] && [ -x "$OUT/slurm/merge.sbatch" ] && [ -d "$OUT/slurm/logs" ] \
  && ok "scripts written under results/sweep/slurm" || not_ok "scripts missing: $(ls -R "$OUT" 2>&1)"
grep -q "^#SBATCH --array=1-3$" "$OUT/slurm/sweep.sbatch" && grep -q -- "--shard auto" "$OUT/slurm/sweep.sbatch" \
  && grep -q "^'$CANNOLI_ABS' run '$CFG' --shard auto" "$OUT/slurm/sweep.sbatch" \
  && grep -q '^export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}$' "$OUT/slurm/sweep.sbatch" \
  && ok "sweep.sbatch: array 1-3, absolute binary and config, threads from the CPUs" \
  || { not_ok "sweep.sbatch"; cat "$OUT/slurm/sweep.sbatch"; }
expect_fail "slurm without --shards" "--shards N is required" -- "$CANNOLI_ABS" slurm "$CFG"
expect_fail "slurm --time with a space" "--time 'a b'" -- "$CANNOLI_ABS" slurm "$CFG" --shards 2 --time "a b"

"$CANNOLI_ABS" slurm "$CFG" --shards 3 --cpus-per-task 1 --time 10 --partition test --submit \
  >"$WORK/submit.txt" 2>"$WORK/submit.err" || { not_ok "submit"; cat "$WORK/submit.err"; }
cat "$WORK/submit.txt"
SID=$(sed -n 's/^submitted sweep: job \([0-9]*\) .*/\1/p' "$WORK/submit.txt")
MID=$(sed -n 's/^submitted merge: job \([0-9]*\) (after job \([0-9]*\) succeeds)$/\1/p' "$WORK/submit.txt")
[ -n "$SID" ] && [ -n "$MID" ] && ok "job ids printed: sweep $SID, merge $MID" || not_ok "job ids: $(cat "$WORK/submit.txt")"
scontrol show job "$MID" | grep -q "Dependency=afterok:${SID}" \
  && ok "the merge depends on the array (afterok:$SID)" || not_ok "merge dependency: $(scontrol show job "$MID" | grep -o 'Dependency=[^ ]*')"

# wait for both (timeout 120 s)
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$SID,$MID" -o %i 2>/dev/null)" ] && break
  sleep 0.2
done
left=$(squeue -h -j "$SID,$MID" -o "%i %T" 2>/dev/null || true)
[ -z "$left" ] && ok "the array and the merge finished" || { not_ok "still queued after 120 s: $left"; scancel "$SID" "$MID" 2>/dev/null || true; }

states=$(scontrol -o show job "$SID" | sed -n 's/.*ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z]*\) .*/\1 \2/p' | sort)
[ "$(echo "$states" | grep -c ' COMPLETED$')" -eq 3 ] && ok "3 array tasks COMPLETED" \
  || { not_ok "array task states: $states"; tail -n 20 "$SL/slurmctld.log"; }
mstate=$(scontrol -o show job "$MID" | sed -n 's/.*JobState=\([A-Z]*\) .*/\1/p')
[ "$mstate" = COMPLETED ] && ok "merge job COMPLETED" || not_ok "merge job: $mstate"

for k in 1 2 3; do
  log="$OUT/slurm/logs/sweep-${SID}_$k.log"
  if [ -f "$log" ] && grep -q "cannoli: shard $k/3: " "$log" && grep -q "ended .* with status 0" "$log"; then
    ok "task $k ran shard $k/3 ($(grep -o 'shard [0-9]/3: [0-9]* of 7 build points' "$log"))"
  else
    not_ok "task $k log: $(cat "$log" 2>&1 | tail -n 5)"
  fi
done
ls "$OUT/slurm/logs/merge-$MID.log" >/dev/null 2>&1 && grep -q "merge: .* into " "$OUT/slurm/logs/merge-$MID.log" \
  && ok "merge log: $(grep -o 'merge: .* into [^ ]*' "$OUT/slurm/logs/merge-$MID.log")" || not_ok "merge log missing"
! grep -q "missing" "$OUT/slurm/logs/merge-$MID.log" 2>/dev/null && ok "the merge finds no point missing" \
  || not_ok "merge reports missing points"

# tasks at the same time: some two [start, end] intervals overlap
$PY - "$OUT/slurm/logs" "$SID" <<'PYEOF' && ok "array tasks ran at the same time (on $CPUS CPUs)" || not_ok "no two tasks overlapped"
import re, sys, glob
iv = []
for p in glob.glob("%s/sweep-%s_*.log" % (sys.argv[1], sys.argv[2])):
    t = open(p).read()
    s = float(re.search(r"started .* \(epoch ([0-9.]+)\)", t).group(1))
    e = float(re.search(r"ended .* \(epoch ([0-9.]+)\)", t).group(1))
    iv.append((s, e))
print("task intervals:", [(round(s % 1000, 2), round(e % 1000, 2)) for s, e in sorted(iv)])
sys.exit(0 if any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(iv) for b in iv[i + 1:]) else 1)
PYEOF

same_rows_as "merged results = the unsharded run (keys, recall; each point once)" \
  "$OUT/results.csv" "$WORK/ref/results.csv"
finish
