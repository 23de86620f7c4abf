"""The load test's own logic (bench/load.py) and the classroom's HAProxy configuration
(deploy/classroom.py), without starting anything."""

from __future__ import annotations

import re

import pytest

from tests.scripts import script_module

load = script_module("bench_load", "bench/load.py")
classroom = script_module("deploy_classroom", "deploy/classroom.py")


@pytest.mark.parametrize("count", [1, 2, 7, 20, 101])
@pytest.mark.parametrize("q", [50, 95])
def test_percentile_is_the_nearest_rank(count, q):
    values = [float(v) for v in range(count, 0, -1)]  # unsorted on purpose
    result = load.percentile(values, q)
    # the smallest value with at least q% of the values at or below it
    at_or_below = sum(v <= result for v in values)
    assert at_or_below >= q / 100 * count
    assert sum(v < result for v in values) < q / 100 * count
    assert load.percentile([], q) is None


def test_markers_match_whole_lowercase_words_and_not_inside_encoded_data():
    pattern = load.marker_pattern(["otter", "duck"])
    assert load.found_markers(pattern, b'{"tokens": ["the", "otter"]}') == {"otter"}
    assert load.found_markers(pattern, b"\x12\x05duck\x1a") == {"duck"}  # inside protobuf bytes
    assert load.found_markers(pattern, b"<td>duck</td> otter.") == {"duck", "otter"}
    assert load.found_markers(pattern, b"otters potter ducks Otter") == set()
    # base64 (a picture, a Plotly array) carries letters at random: seen in a real run as "T2DUck97"
    assert load.found_markers(pattern, b"T2DUck97Q2+otter/8duck9") == set()


def test_each_students_sentences_name_it_and_differ():
    texts = ["a b", "c d", "e f"]
    first = load.sentences_for("otter", 0, 3, texts)
    second = load.sentences_for("owl", 1, 3, texts)
    assert len(set(first)) == 3 and all(re.search(r"\botter\b", s) for s in first)
    assert not any("otter" in s for s in second)


def test_the_readme_block_replaces_only_itself():
    document = "# Benchmarks\n\nabove\n\n<!-- load -->\nold table\n<!-- /load -->\n\nbelow\n"
    updated = load.replace_block(document, "new table")
    assert updated == "# Benchmarks\n\nabove\n\n<!-- load -->\nnew table\n<!-- /load -->\n\nbelow\n"
    assert load.replace_block(updated, "new table") == updated
    plain = load.replace_block("# Benchmarks\n\nrest\n", "new table")
    assert plain.startswith("# Benchmarks\n\nrest\n") and plain.endswith(
        "<!-- load -->\nnew table\n<!-- /load -->\n"
    )


def test_a_rerun_replaces_only_the_same_class():
    def run(students, replicas, proxy, tag):
        return {"students": students, "replicas": replicas, "through_proxy": proxy, "tag": tag}

    kept = load.merge_runs(
        [run(30, 1, False, "old"), run(100, 1, False, "old"), run(30, 2, True, "old")],
        [run(30, 1, False, "new")],
    )
    assert sorted((r["students"], r["replicas"], r["tag"]) for r in kept) == [
        (30, 1, "new"),
        (30, 2, "old"),
        (100, 1, "old"),
    ]


def test_descendants_follow_the_tree_and_skip_what_is_asked():
    tree = {1: [2, 3], 2: [4], 3: [5], 5: [6]}
    assert load.descendants(1, tree) == {1, 2, 3, 4, 5, 6}
    assert load.descendants(1, tree, skip={3}) == {1, 2, 4}


def test_the_haproxy_configuration_names_every_process_with_its_cookie():
    config = classroom.haproxy_config([41001, 41002, 41003], 8600)
    servers = re.findall(r"^\s+server (\S+) 127\.0\.0\.1:(\d+) .*cookie (\S+)", config, re.MULTILINE)
    assert servers == [("app1", "41001", "app1"), ("app2", "41002", "app2"), ("app3", "41003", "app3")]
    assert re.search(r"^\s+bind 127\.0\.0\.1:8600$", config, re.MULTILINE)
    assert re.search(r"^\s+cookie CLASSROOM_REPLICA insert", config, re.MULTILINE)
    assert "timeout tunnel" in config  # websockets stay open while a student reads
    assert "$" not in config  # every placeholder filled
