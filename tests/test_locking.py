"""core.locking: one writer per cache entry, by flock (default) or by the lock file's existence (soft)."""
import subprocess
import sys
import time

import pytest

from core.locking import exclusive

HOLD = "from core.locking import exclusive; import time, sys\nwith exclusive(sys.argv[1]):\n    print('held', flush=True); time.sleep(1)"


@pytest.mark.parametrize("soft", ["0", "1"])
def test_a_second_process_waits_for_the_holder_and_says_so(soft, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASD_BENCH_SOFT_LOCKS", soft)
    lock = tmp_path / "entry.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    start = time.perf_counter()
    with exclusive(lock):
        waited = time.perf_counter() - start
    holder.wait(timeout=30)
    assert waited > 0.5 and f"waiting for {lock}" in capsys.readouterr().err
    assert lock.exists() == (soft == "0")  # a soft lock is its file: released means removed
