"""A short chaos run (#21, ``bench/chaos.py``): the chat server on loopback, 4 clients asking, documents
added, replaced and removed through the API, and faults at random (kill -9 and restart, a full disk, a
concurrent ``rag.index``, a truncated index file). Nothing may be lost, no offset may be wrong, and no
"done" may be stale. CHAOS_MINUTES sets its length (default 3, as in CI)."""

from __future__ import annotations

import os
import sys

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_a_short_chaos_run_loses_nothing(tmp_path):
    pytest.importorskip("gradio_client")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import chaos
    finally:
        sys.path.remove(str(ROOT / "bench"))

    tally = chaos.run(float(os.environ.get("CHAOS_MINUTES", "3")), seed=1, work=tmp_path, fault_every=20.0)

    assert tally.problems == [] and tally.bad_offsets == []
    assert tally.answers > 0 and tally.spans_checked > 0 and sum(tally.actions.values()) > 0
    assert sum(tally.faults.values()) > 0 and tally.checks >= 1
