"""``python -m benchmarks.quality`` on the tiny bundle: the table's figures and the calibration
frontier's diagnostic, written to --json."""

from __future__ import annotations

import json

from benchmarks.quality import SERVED_CALIBRATION, main
from model_build.bundle import CARD_FILE, POINTER_FILE


def test_the_frontier_refits_on_each_short_text_set_and_reproduces_the_served_figures(
    tiny_bundle_root, imdb_tarball, tmp_path, capsys
):
    # WHEN the benchmark runs with the frontier on the tiny bundle
    results = tmp_path / "quality.json"
    argv = ["--models", str(tiny_bundle_root), "--data", str(imdb_tarball), "--imdb-limit", "200"]
    assert main([*argv, "--threads", "1", "--calibration-frontier", "--json", str(results)]) == 0

    # THEN it prints the frontier after the table, and writes it with every measure
    out = capsys.readouterr().out
    assert out.index("targets met") < out.index("calibration frontier")
    written = json.loads(results.read_text())
    frontier = written["calibration_frontier"]
    assert [row["fitted_on"] for row in frontier] == [
        SERVED_CALIBRATION,
        "ood short reviews",
        "IMDB test last sentences",
        "ood short reviews + IMDB test last sentences",
    ]
    # AND its first row is the bundle's own calibration, with the ECEs the table reports
    version = json.loads((tiny_bundle_root / POINTER_FILE).read_text())["version"]
    card = json.loads((tiny_bundle_root / version / CARD_FILE).read_text())
    assert frontier[0]["calibration"] == card["calibration"]["parameters"]
    measures = written["measures"]
    served = frontier[0]["ece"]
    assert abs(served["ood short reviews"] - measures["ood_short_reviews.ece"]["value"]) < 0.01
    assert abs(served["IMDB test last sentences"] - measures["imdb_test_last_sentences.ece"]["value"]) < 0.01
    # AND each refit calibrates the set it was fitted on at least as well as the served one
    for row in frontier[1:3]:
        assert row["ece"][row["fitted_on"]] <= served[row["fitted_on"]] + 0.02
