#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine for the sweep tests: installs Debian's slurm-wlm and munge once,
# then starts munged, slurmctld and slurmd directly (no systemd). State, logs and pid files live in
# ${SLURM_HOME:-/tmp/asd-bench-slurm}; scripts/slurm-down.sh stops it. Safe to run twice. A fresh start drops the
# saved state (slurmctld -c): jobs of a test run killed mid-way would otherwise come back and hold the node.
set -euo pipefail
HOME_DIR=${SLURM_HOME:-/tmp/asd-bench-slurm}
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "slurm-up: slurm-wlm and munge are missing and this is not a root Debian shell; install them yourself" \
             "(the Slurm tests fail in CI and are skipped elsewhere without a cluster)" >&2
        exit 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
# a responding node is idle, mixed or allocated; a trailing * (not responding) or drain/down is not up
node_up() { sinfo -h -N -o %T 2>/dev/null | grep -qxE "idle|mixed|allocated|completing"; }
if node_up; then
    echo "slurm-up: already running"; exit 0
fi
bash "$(dirname "$0")/slurm-down.sh"
mkdir -p "$HOME_DIR"/{state,spool,log} /run/munge /etc/slurm
chown munge:munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    /usr/sbin/mungekey --create --force >/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
pgrep -u munge munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
NODE=$(hostname)
MEM_MIB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=asdbench
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
KillWait=5
StateSaveLocation=$HOME_DIR/state
SlurmdSpoolDir=$HOME_DIR/spool
SlurmctldLogFile=$HOME_DIR/log/slurmctld.log
SlurmdLogFile=$HOME_DIR/log/slurmd.log
SlurmctldPidFile=$HOME_DIR/slurmctld.pid
SlurmdPidFile=$HOME_DIR/slurmd.pid
NodeName=$NODE CPUs=$(nproc) RealMemory=$MEM_MIB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c
slurmd
for _ in $(seq 60); do
    if node_up; then
        sinfo; exit 0
    fi
    sleep 1
done
echo "slurm-up: the node did not come up in 60 s; see $HOME_DIR/log (sinfo -R says: $(sinfo -h -R 2>&1 | head -1))" >&2
tail -n 5 "$HOME_DIR/log/slurmctld.log" "$HOME_DIR/log/slurmd.log" >&2 || true
exit 1
