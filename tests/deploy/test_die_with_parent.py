"""A supervisor killed by SIGKILL (no handler runs) must not leave its processes behind: what
deploy/classroom.py starts goes through dying_with_this_process (prctl PR_SET_PDEATHSIG, Linux).
A stand-in supervisor starts one long-sleeping child that way; we SIGKILL the supervisor and poll,
with a deadline, until the child is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.polling import wait_for
from tests.scripts import ROOT, script_module

classroom = script_module("deploy_classroom", "deploy/classroom.py")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

# The stand-in supervisor: starts the child as classroom.py starts its processes, says its pid,
# then waits to be killed.
SUPERVISOR = """
import subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from tests.scripts import script_module
classroom = script_module("deploy_classroom", "deploy/classroom.py")
child = subprocess.Popen(classroom.dying_with_this_process(
    [sys.executable, "-c", "import time; time.sleep(300)"]), start_new_session=True)
print(child.pid, flush=True)
time.sleep(300)
"""


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has ended, only its exit status is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def execed(pid: int) -> bool:
    """The wrapper has set the signal and exec'd the command (its own code is no longer the program)."""
    try:
        return b"PDEATHSIG" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_the_wrapped_command_keeps_its_arguments_and_exec_keeps_the_process_id():
    command = classroom.dying_with_this_process([sys.executable, "-c", "import os; print(os.getpid())"])
    process = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert command[-3:] == [sys.executable, "-c", "import os; print(os.getpid())"]
    # exec, not a child: the pid the supervisor holds (Popen.pid) is the app's own
    started = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out, _ = started.communicate(timeout=60)
    assert int(out) == started.pid
    assert process.returncode == 0


def test_processes_die_with_a_supervisor_killed_by_sigkill():
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(ROOT)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    child = None
    try:
        line = supervisor.stdout.readline()  # the child's pid, once it is started
        assert line.strip().isdigit(), f"the stand-in supervisor said {line!r}"
        child = int(line)
        wait_for(lambda: execed(child), 30, "the child runs its own command (past the wrapper's prctl)")
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait(timeout=30)
        wait_for(lambda: not alive(child), 10, f"the child {child} ends with its supervisor")
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)  # only the process this test started, by its id
