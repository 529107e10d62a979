"""molood._parallel: ordered process map, worker start-up and worker lifetime."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from molood import _parallel
from molood._parallel import ordered_map, resolve_n_jobs


def _slow_square(x: int) -> tuple[int, int]:
    time.sleep(0.01 * (x % 3))  # later items often finish first
    return x * x, os.getpid()


@pytest.fixture(params=["forkserver", "spawn"])
def start_method(request, monkeypatch):
    """Both ways workers are started: the fork server (Linux) and spawn (elsewhere)."""
    if request.param == "spawn":
        monkeypatch.setattr(_parallel, "_has_forkserver", lambda: False)
    elif not _parallel._has_forkserver():
        pytest.skip("no fork server on this platform")
    return request.param


def test_results_come_in_input_order_from_several_workers(start_method):
    out = list(ordered_map(_slow_square, ((i,) for i in range(30)), 2, preload=("time",)))
    assert [r for r, _ in out] == [i * i for i in range(30)]
    assert len({pid for _, pid in out} - {os.getpid()}) == 2  # two workers did the work


def test_one_job_runs_in_this_process():
    out = list(ordered_map(_slow_square, ((i,) for i in range(5)), 1))
    assert {pid for _, pid in out} == {os.getpid()}


def test_items_are_consumed_lazily():
    taken = []

    def items():
        for i in range(1000):
            taken.append(i)
            yield (i,)

    it = ordered_map(_slow_square, items(), 2, max_in_flight=4)
    next(it)
    assert len(taken) <= 5  # the first result needs one item; at most 4 in flight
    it.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and SIGKILL")
@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_workers_exit_when_the_parent_is_killed(tmp_path, method):
    """A SIGKILLed screen (no chance to clean up) must not leave workers running."""
    script = tmp_path / "parent.py"
    script.write_text(f"METHOD = {method!r}\n" + textwrap.dedent("""
        import os, sys, time
        from molood import _parallel
        from molood._parallel import ordered_map, start_forkserver

        if METHOD == "spawn":
            _parallel._has_forkserver = lambda: False

        def work(i):
            time.sleep(0.05 if i < 2 else 60)
            return os.getpid()

        if __name__ == "__main__":
            start_forkserver(("time",))
            it = ordered_map(work, ((i,) for i in range(10)), 2)
            print(next(it), next(it), flush=True)  # both workers are up
            time.sleep(60)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            cwd=os.getcwd())
    try:
        pids = {int(p) for p in proc.stdout.readline().split()}
        assert pids and all(_alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.time() + 15
        while time.time() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids), "workers outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(not _parallel._has_forkserver(), reason="no fork server on this platform")
def test_screening_workers_start_without_pandas(tmp_path):
    """Workers forked for a molecule model import neither pandas nor the accessor (~0.2 s of
    every screen's start); the caller keeps its accessor and its environment."""
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent("""
        import os, sys

        def probe(_):
            return "pandas" in sys.modules, os.environ.get("MOLOOD_WORKER_PROCESS")

        if __name__ == "__main__":
            import pandas
            import molood
            from molood._parallel import MOLECULE_SCORER_PRELOAD, ordered_map, start_forkserver

            start_forkserver(MOLECULE_SCORER_PRELOAD)
            got = set(ordered_map(probe, [(i,) for i in range(4)], 2))
            print(sorted(got), hasattr(pandas.DataFrame, "molood"),
                  os.environ.get("MOLOOD_WORKER_PROCESS"))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=os.getcwd(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "[(False, '1')] True None"


def test_resolve_n_jobs():
    assert resolve_n_jobs(None) == resolve_n_jobs(0) == resolve_n_jobs(1) == 1
    assert resolve_n_jobs(-1) == (os.cpu_count() or 1)
    assert resolve_n_jobs(3) == 3
