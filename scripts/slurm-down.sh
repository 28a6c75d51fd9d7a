#!/usr/bin/env bash
# Stops the cluster scripts/slurm-up.sh started, by its pid files (never by process name).
set -uo pipefail
HOME_DIR=${SLURM_HOME:-/tmp/asd-bench-slurm}
for daemon in slurmd slurmctld; do
    if [ -s "$HOME_DIR/$daemon.pid" ]; then
        kill "$(cat "$HOME_DIR/$daemon.pid")" 2>/dev/null || true
        rm -f "$HOME_DIR/$daemon.pid"
    fi
done
exit 0
