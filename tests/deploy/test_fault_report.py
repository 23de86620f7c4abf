"""The pieces of a fault run (bench/load.py --kill-after) and of the supervisor (deploy/classroom.py)
that need nothing started: cookies a moved student sends, recovery times, the report line, the
back-off, exit descriptions, HAProxy's configuration and error page."""

from __future__ import annotations

import re
import signal

from tests.scripts import script_module

load = script_module("bench_load", "bench/load.py")
classroom = script_module("deploy_classroom", "deploy/classroom.py")


def test_a_cookie_set_anew_replaces_the_old_one_of_the_same_name():
    old = "CLASSROOM_REPLICA=app1; _streamlit_xsrf=abc"
    assert (
        load.merge_cookies(["CLASSROOM_REPLICA=app2"], old) == "CLASSROOM_REPLICA=app2; _streamlit_xsrf=abc"
    )
    assert load.merge_cookies([], old) == old
    assert load.merge_cookies(["a=1", "b=2"], None) == "a=1; b=2"
    assert load.merge_cookies([], None) is None


def test_a_url_carries_a_students_word_once_decoded():
    own = load.marker_pattern(["otter"])
    assert load.url_carries(own, "ckpt=minilm&text=otter+says%3A+hello")
    assert load.url_carries(own, "text=The+otter%0Aswims")
    assert not load.url_carries(own, "ckpt=minilm&text=Transformers+are+fun")
    assert not load.url_carries(own, "")


def test_recovery_counts_from_the_kill_to_the_first_page_drawn_after_it():
    def student(drops, served):
        s = load.Student(0, "otter", "", [])
        s.drops, s.served_again = drops, served
        return s

    students = [
        student([10.2], [12.0, 30.0]),  # moved, served again 2 s after the kill
        student([10.1], [15.5]),
        student([], []),  # on the live process: not counted
        student([10.3], []),  # lost for good: no time
        student([4.0, 10.4], [5.0, 11.0]),  # an earlier drop does not count for this kill
    ]
    assert load.recovery_times(students, 10.0) == [2.0, 5.5, 1.0]


def test_the_fault_line_says_met_only_when_nobody_is_lost_and_p95_is_within_the_goal():
    fault = {
        "killed": "app1",
        "killed_after_s": 20.0,
        "students_on_it": 11,
        "students_dropped": 11,
        "students_served_again": 11,
        "students_lost_for_good": 0,
        "views_expected_from_url": 4,
        "views_restored_from_url": 4,
        "recovery_median_s": 1.2,
        "recovery_p95_s": 3.4,
        "recovery_max_s": 3.9,
        "back_to_all_healthy_s": 12.5,
        "goal_recovery_p95_s": 5.0,
    }
    run = {
        "students": 20,
        "replicas": 2,
        "sentences_done": 60,
        "sentences_expected": 60,
        "errors": [],
        "sessions_that_saw_another_students_text": [],
        "fault": fault,
    }
    line = load.fault_line(run)
    assert "11 of 11 dropped students served again" in line and "p95 **3.4 s**" in line
    assert "4 of 4 saw their own text again" in line
    assert line.endswith("0 errors, 0 leaks.") and "nobody lost: met" in line
    assert "nobody lost: missed" in load.fault_line({**run, "fault": {**fault, "students_lost_for_good": 1}})
    assert "nobody lost: missed" in load.fault_line({**run, "fault": {**fault, "recovery_p95_s": 5.1}})


def test_a_fault_run_replaces_only_a_fault_run():
    def run(kill, tag):
        return {"students": 20, "replicas": 2, "through_proxy": True, "kill_after_s": kill, "tag": tag}

    kept = load.merge_runs([run(None, "plain"), run(20.0, "old fault")], [run(20.0, "new fault")])
    assert sorted(r["tag"] for r in kept) == ["new fault", "plain"]


def test_the_back_off_doubles_up_to_its_ceiling():
    assert [classroom.backoff_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_an_exit_is_described_by_its_code_or_its_signal():
    assert classroom.describe_exit(3) == "exit code 3"
    assert classroom.describe_exit(-signal.SIGKILL) == "killed by signal SIGKILL"
    assert classroom.describe_exit(0) == "exit code 0"


def test_the_configuration_fails_over_fast_and_shows_a_page():
    config = classroom.haproxy_config(
        [41001, 41002], 8600, runtime_socket="/run/x.sock", error_pages={503: "/tmp/503.http"}
    )
    assert re.search(r"^\s+option redispatch\b", config, re.MULTILINE)
    assert re.search(r"^\s+retries [1-9]", config, re.MULTILINE)
    checks = re.search(
        r"default-server inter (\d+)(m?s) fastinter (\d+)ms downinter \S+ fall (\d+) rise", config
    )
    inter_ms = int(checks[1]) * (1 if checks[2] == "ms" else 1000)
    # a dead process is out of rotation within 2 s: one normal interval, then fall-1 fast ones
    assert inter_ms + (int(checks[4]) - 1) * int(checks[3]) <= 2000
    assert "stats socket /run/x.sock mode 600 level admin" in config
    assert "errorfile 503 /tmp/503.http" in config
    assert all(" check" in line for line in config.splitlines() if line.strip().startswith("server "))


def test_the_error_page_is_a_complete_response_with_nothing_fetched_from_elsewhere():
    page = classroom.ERROR_PAGE.read_text()
    response = classroom.error_response(503, page)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 503 Service Unavailable\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    assert len(response) < 16384  # HAProxy keeps an error page in one buffer
    assert "http://" not in page and "https://" not in page and "<script" not in page
