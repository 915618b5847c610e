"""rag index's progress (#23): the share done, chunks/s and the time left, in bytes of the files read."""

from __future__ import annotations

import io
import re

from rag.index.build import update_index
from rag.index.progress import BuildProgress


def test_a_line_says_share_rate_and_time_left():
    log = io.StringIO()
    progress = BuildProgress(4_000_000, log, every=0)
    progress.advance(100, 0.5, 2_000_000)  # half of the first of two 2 MB files
    progress.file_done(2_000_000)
    progress.advance(50, 0.5, 2_000_000)
    lines = log.getvalue().splitlines()
    assert re.fullmatch(r"indexing: 25% of 4\.0 MB, 100 chunks at \d+/s, about .+ left", lines[0])
    assert lines[1].startswith("indexing: 75% of 4.0 MB, 150 chunks at ")


def test_a_build_reports_its_progress_to_the_log(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr("rag.index.progress.PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(BuildProgress.__init__, "__defaults__", (0.0,))  # a line per batch
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"f{i}.txt").write_text(f"Report {i}. " + "The harbour board met on Tuesday. " * 400)
    log = io.StringIO()
    update_index(docs, tmp_path / "ix", embedder, log=log)
    shares = [int(m) for m in re.findall(r"indexing: (\d+)% of", log.getvalue())]
    assert shares and shares == sorted(shares) and shares[-1] == 100
