"""The classroom's supervisor (deploy/classroom.py) run as `make classroom` runs it, with HAProxy on
loopback, in front of a stand-in app that starts in a blink (tests/deploy/fake_app.py): a killed
process comes back while the proxy keeps serving, one that keeps crashing is retried with a
back-off, a page (not a bare 503) while none answers, rolling restart and the memory limit replace
processes one at a time, Ctrl+C stops everything and exits 0, a crash of the supervisor exits 1.
Every wait polls with a deadline. The real app behind the same supervisor:
tests/integration/test_classroom.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.deploy.polling import Poller, get, wait_for
from tests.scripts import ROOT, script_module

classroom = script_module("deploy_classroom", "deploy/classroom.py")
FAKE_APP = Path(__file__).with_name("fake_app.py")

pytestmark = pytest.mark.skipif(classroom.haproxy_path() is None, reason=classroom.HAPROXY_MISSING)


def running_with_tag(tag: str) -> list[int]:
    """Live processes whose environment carries ``tag`` (everything a supervisor started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if f"CLASSROOM_TEST_TAG={tag}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def apps_running(tag: str) -> list[int]:
    """Processes running the stand-in app (after exec: a fork on its way counts only once it runs
    it), and the supervisor, whose command line names it too."""
    found = []
    for pid in running_with_tag(tag):
        try:
            if b"fake_app.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


class Supervisor:
    """`deploy/classroom.py` in a process of its own, as `make classroom` starts it."""

    def __init__(self, folder: Path, replicas: int = 2, *options: str):
        self.logs = folder / "logs"
        self.port = classroom.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.crash_file = folder / "crash"
        self.tag = uuid.uuid4().hex
        folder.mkdir(parents=True)
        self.output = folder / "supervisor.out"
        command = [sys.executable, str(ROOT / "deploy" / "classroom.py"), "--replicas", str(replicas)]
        command += ["--port", str(self.port), "--logs", str(self.logs), *options, "--app", str(FAKE_APP)]
        env = dict(os.environ, FAKE_APP_CRASH_FILE=str(self.crash_file), CLASSROOM_TEST_TAG=self.tag)
        with open(self.output, "w") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_for(
            lambda: self.process.poll() is not None or "Transformer Explorer for a classroom" in self.text(),
            60,
            "the supervisor started",
        )
        assert self.process.poll() is None, self.text()

    def text(self) -> str:
        return self.output.read_text()

    def status(self) -> dict:
        for _ in range(20):  # written by rename: a reader sees the old or the new file
            with contextlib.suppress(OSError, ValueError):
                return json.loads((self.logs / "status.json").read_text())
            time.sleep(0.05)
        raise AssertionError("no status.json")

    def replica(self, name: str) -> dict:
        return next(r for r in self.status()["replicas"] if r["name"] == name)

    def wait_cycles(self, count: int) -> None:
        """Until the supervisor has looked at every process ``count`` more times."""
        start = self.status()["cycles"]
        wait_for(lambda: self.status()["cycles"] >= start + count, 30, f"{count} supervisor cycles")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def supervisors(tmp_path):
    started: list[Supervisor] = []

    def start(replicas: int = 2, *options: str) -> Supervisor:
        started.append(Supervisor(tmp_path / str(len(started)), replicas, *options))
        return started[-1]

    yield start
    for supervisor in started:
        supervisor.stop()
        for pid in running_with_tag(supervisor.tag):  # never left behind, even by a failed test
            os.kill(pid, signal.SIGKILL)


def test_a_killed_process_is_started_again_while_the_proxy_keeps_serving(supervisors):
    room = supervisors(2)
    before = room.replica("app1")["pid"]
    cookie = f"{classroom.COOKIE}=app1"
    with Poller(room.url) as anyone, Poller(room.url, cookie) as its_students:
        wait_for(lambda: anyone.results and its_students.results, 10, "requests through the proxy")
        os.kill(before, signal.SIGKILL)
        wait_for(
            lambda: room.replica("app1")["pid"] != before and room.replica("app1")["state"] == "up",
            30,
            "app1 started again",
        )
        served = len(its_students.results)
        wait_for(lambda: len(its_students.results) > served + 5, 10, "more requests after the restart")
    # nothing failed: a refused connection was retried on app2, then app1 was out of rotation
    assert anyone.failures == [] and its_students.failures == []
    assert {status for status, _ in anyone.results + its_students.results} == {200}
    assert "app2" in {replica for _, replica in its_students.results}  # app1's students were moved
    assert its_students.results[-1] == (200, "app1")  # and the cookie works again once it is back
    text = room.text()
    assert f"app1 (pid {before}) stopped after" in text and "killed by signal SIGKILL" in text
    assert "fake app listening on" in text.split("killed by signal SIGKILL", 1)[1]  # its log's last lines
    assert (
        room.replica("app1")["restarts"] == 1
        and room.replica("app1")["last_exit"] == "killed by signal SIGKILL"
    )
    assert room.replica("app2")["restarts"] == 0


def test_a_process_that_keeps_crashing_is_retried_with_a_back_off(supervisors):
    room = supervisors(2)
    room.crash_file.write_text("")
    os.kill(room.replica("app1")["pid"], signal.SIGKILL)
    # killed (wait 1 s), then crashes at once twice (2 s, 4 s): the waits double
    wait_for(lambda: room.text().count("exit code 3") >= 2, 30, "two crashes of the new process")
    text = room.text()
    waits = [
        line.split("starting it again in ")[1].split(" s")[0]
        for line in text.splitlines()
        if "again in" in line
    ]
    assert waits[:3] == ["1", "2", "4"], text
    assert "boom: told to crash" in text  # the crashed process's own last line
    assert get(f"{room.url}/", f"{classroom.COOKIE}=app1")[::2] == (200, "app2")  # the class goes on
    room.crash_file.unlink()
    wait_for(lambda: room.replica("app1")["state"] == "up", 30, "app1 back once it no longer crashes")
    wait_for(lambda: get(f"{room.url}/", f"{classroom.COOKIE}=app1")[2] == "app1", 10, "app1 in rotation")


def test_while_no_process_answers_the_proxy_shows_a_page_that_reloads_itself(supervisors):
    room = supervisors(1)
    room.crash_file.write_text("")
    os.kill(room.replica("app1")["pid"], signal.SIGKILL)
    status, body, _ = wait_for(
        lambda: (answer := get(f"{room.url}/tokenizer?text=hello")) and answer[0] != 200 and answer,
        10,
        "a 503",
    )
    assert status in (502, 503)  # 502: the request that was on its way when it died; same page
    assert "Transformer Explorer is restarting" in body and 'http-equiv="refresh"' in body
    assert (
        "http://" not in body and "https://" not in body and "<script" not in body
    )  # offline: nothing fetched
    room.crash_file.unlink()
    wait_for(lambda: get(f"{room.url}/")[0] == 200, 30, "the app again after the restart")


def test_ctrl_c_stops_every_process_it_started_and_exits_0(supervisors):
    room = supervisors(2)
    started = set(running_with_tag(room.tag)) - {room.process.pid}
    assert len(started) == 3  # two app processes and HAProxy
    assert room.stop() == 0
    assert running_with_tag(room.tag) == []
    assert "Stopped." in room.text()
    assert not (room.logs / "supervisor.pid").exists()


def test_a_crash_of_the_supervisor_itself_stops_everything_and_exits_1(supervisors):
    room = supervisors(2)
    status_file = room.logs / "status.json"
    status_file.unlink()
    status_file.mkdir()  # its next status write fails: an error the supervisor does not expect
    (status_file / "in-the-way").write_text("")
    assert room.process.wait(timeout=60) == 1
    assert "The classroom supervisor failed" in room.text()
    assert running_with_tag(room.tag) == []


def test_a_start_that_fails_exits_1_and_leaves_nothing_running(tmp_path):
    tag = uuid.uuid4().hex
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "classroom.py"), "--replicas", "2", "--port", str(port)]
            + ["--logs", str(tmp_path / "logs"), "--app", str(FAKE_APP)],
            env=dict(os.environ, CLASSROOM_TEST_TAG=tag),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "did not answer" in done.stderr
    assert running_with_tag(tag) == []


def test_a_rolling_restart_replaces_the_processes_one_at_a_time(supervisors):
    room = supervisors(2, "--drain-seconds", "0.5")
    before = {r["name"]: r["pid"] for r in room.status()["replicas"]}
    with Poller(room.url) as anyone:
        done = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "classroom.py"), "--reload", "--logs", str(room.logs)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    after = {r["name"]: r["pid"] for r in room.status()["replicas"]}
    assert all(after[name] != pid for name, pid in before.items())
    assert anyone.failures == [] and {status for status, _ in anyone.results} == {200}
    lines = room.text().splitlines()
    order = [
        i
        for marker in ("app1 (pid", "app1: answering again", "app2 (pid", "app2: answering again")
        for i, line in enumerate(lines)
        if line.startswith(marker)
    ]
    assert order == sorted(order) and len(order) >= 4, "\n".join(lines)  # app2 drained after app1 was back
    assert room.status()["reloads_done"] == 1


def test_a_process_over_the_memory_limit_is_replaced_only_once_no_session_is_open(supervisors):
    room = supervisors(2, "--memory-limit-mb", "100")
    before = room.replica("app1")["pid"]
    # a student's open tab on app1: one long-lived connection, like its websocket
    tab = urllib.request.urlopen(
        urllib.request.Request(f"{room.url}/hold", headers={"Cookie": f"{classroom.COOKIE}=app1"}), timeout=10
    )
    try:
        assert tab.headers.get(classroom.REPLICA_HEADER) == "app1"
        assert get(f"{room.url}/grow", f"{classroom.COOKIE}=app1")[::2] == (200, "app1")
        wait_for(lambda: room.replica("app1")["state"] == "draining", 20, "app1 drained for its memory")
        assert "over the limit of 100 MB" in room.replica("app1")["drain_reason"]
        room.wait_cycles(12)  # three seconds of the supervisor looking at it
        assert room.replica("app1")["pid"] == before and room.replica("app1")["state"] == "draining"
        assert tab.read(5) == b"....."  # the open session is not interrupted
        assert all(get(f"{room.url}/")[2] == "app2" for _ in range(4))  # new students go elsewhere
    finally:
        tab.close()
    wait_for(lambda: room.replica("app1")["pid"] != before, 20, "app1 replaced once its tab closed")
    wait_for(lambda: room.replica("app1")["state"] == "up", 20, "the new app1 serving")
    assert room.replica("app1")["last_exit"].startswith("replaced: memory")
    room.wait_cycles(12)  # the new process, small again, is left alone
    assert room.replica("app1")["restarts"] == 1 and room.replica("app1")["state"] == "up"
    assert room.replica("app2")["restarts"] == 0


def test_haproxy_is_started_again_if_it_stops(supervisors):
    room = supervisors(2)
    before = room.status()["proxy_pid"]
    os.kill(before, signal.SIGKILL)
    wait_for(lambda: room.status()["proxy_restarts"] == 1, 10, "HAProxy started again")
    assert room.status()["proxy_pid"] != before
    wait_for(lambda: classroom.answers(f"{room.url}/_stcore/health", b"ok"), 10, "the proxy serving again")
    assert "HAProxy stopped (killed by signal SIGKILL); starting it again." in room.text()


def test_ctrl_c_while_starting_stops_what_was_started_and_exits_0(tmp_path):
    tag = uuid.uuid4().hex
    command = [sys.executable, str(ROOT / "deploy" / "classroom.py"), "--replicas", "2"]
    command += [
        "--port",
        str(classroom.free_port()),
        "--logs",
        str(tmp_path / "logs"),
        "--app",
        str(FAKE_APP),
    ]
    env = dict(os.environ, CLASSROOM_TEST_TAG=tag, FAKE_APP_START_DELAY_S="60")
    supervisor = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        # both app processes launched, still starting
        wait_for(lambda: len(set(apps_running(tag)) - {supervisor.pid}) == 2, 30, "two app processes")
        supervisor.send_signal(signal.SIGINT)
        output, _ = supervisor.communicate(timeout=30)
        left = running_with_tag(tag)  # before the clean-up below
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        for pid in running_with_tag(tag):
            os.kill(pid, signal.SIGKILL)
    assert supervisor.returncode == 0, output
    assert "Stopped before the classroom was ready." in output
    assert left == []
