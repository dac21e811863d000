#!/usr/bin/env bash
# A one-node Slurm cluster with one fake GPU, for the Slurm executor's tests
# (test/slurm.test.ts) and for trying `executor: {kind: slurm}` by hand.
#
#   scripts/slurm-cluster.sh start    start munged, slurmctld and slurmd (idempotent)
#   scripts/slurm-cluster.sh status   exit 0 when the partition answers
#   scripts/slurm-cluster.sh stop     stop exactly the daemons this script started
#
# Needs root and Debian's `slurm-wlm` and `munge` (apt-get install slurm-wlm munge).
# Everything it writes but the config lives under $MLP_SLURM_DIR (default
# /var/tmp/mlp-slurm): state, spool, logs and the pid files of the daemons it
# started, so `stop` never touches another munged or slurmd. The config goes to
# /etc/slurm/slurm.conf because that is where sbatch, squeue and the daemons'
# own users look without any environment.
#
# Measured on the 2-core CI machine (Slurm 22.05.8): `start` takes about 2 s.
# KillWait=2 keeps a job over its time limit short; slurmctld still checks
# time limits only every ~30 s, so a `--time=1` job ends 60-90 s after it started.
set -euo pipefail

dir="${MLP_SLURM_DIR:-/var/tmp/mlp-slurm}"
conf=/etc/slurm/slurm.conf
partition=gpu

write_config () {
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" /etc/slurm
  chmod 755 "$dir"
  cat > "$conf.new" <<EOF
# written by mlp scripts/slurm-cluster.sh: a one-node test cluster
ClusterName=mlp
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
GresTypes=gpu
MpiDefault=none
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
# seconds between SIGTERM and SIGKILL when a job hits its time limit
KillWait=2
# seconds a finished job stays visible to squeue/scontrol (60 is Slurm's floor for a useful value)
MinJobAge=60
InactiveLimit=0
NodeName=localhost CPUs=2 RealMemory=16000 Gres=gpu:h200:1 State=UNKNOWN
PartitionName=$partition Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.new" "$conf"
  echo 'NodeName=localhost Name=gpu Type=h200 File=/dev/null' > /etc/slurm/gres.conf
}

# pid from a pid file, when that process is still the named program
alive () {
  local file="$1" name="$2" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file" 2>/dev/null || true)"
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ] && echo "$pid"
}

answers () {
  timeout 5 sinfo -h -p "$partition" -o '%T' 2>/dev/null | grep -Eq 'idle|mix|alloc'
}

start () {
  if [ "$(id -u)" != 0 ]; then echo "slurm-cluster: must run as root (it starts munged, slurmctld and slurmd)" >&2; exit 1; fi
  for bin in munged slurmctld slurmd sinfo; do
    command -v "$bin" >/dev/null || { echo "slurm-cluster: $bin is missing: apt-get install slurm-wlm munge" >&2; exit 1; }
  done
  write_config
  if ! alive "$dir/munge/munged.pid" munged >/dev/null; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    [ -f /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=128 count=1 status=none; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
    mkdir -p "$dir/munge" && chown munge:munge "$dir/munge"
    # --force: a socket left by a munged that died is reused
    runuser -u munge -- munged --force --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log"
  fi
  if ! alive "$dir/slurmctld.pid" slurmctld >/dev/null; then slurmctld; fi
  if ! alive "$dir/slurmd.pid" slurmd >/dev/null; then slurmd -N localhost; fi
  for _ in $(seq 1 60); do
    if answers; then
      # a node drained by an earlier unclean stop comes back
      scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
      echo "slurm-cluster: partition '$partition' up ($(sinfo -h -p "$partition" -o '%D node, %G'))"
      return 0
    fi
    sleep 0.5
  done
  echo "slurm-cluster: the partition did not come up in 30 s; see $dir/log/" >&2
  exit 1
}

stop () {
  local pid
  for pair in slurmd.pid:slurmd slurmctld.pid:slurmctld munge/munged.pid:munged; do
    if pid="$(alive "$dir/${pair%%:*}" "${pair##*:}")"; then
      kill "$pid"
      for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    fi
  done
  echo "slurm-cluster: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if answers; then sinfo -p "$partition" -N -O NodeList,StateLong,Gres,GresUsed; else echo "slurm-cluster: partition '$partition' does not answer" >&2; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
