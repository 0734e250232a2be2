"""The checklist-report PDF, rendered once per (check result, patient identity, clinician) and then reused.

Rendering (reportlab, under the GIL) is the largest CPU cost of a save. The PDF is byte-for-byte deterministic
for the same input, so a save retried, re-submitted or repeated (the idempotent "unchanged" path) gets the very
bytes it would have rendered. The key is a digest of the inputs' canonical JSON — it covers the order (the order
key is derived from the check result) and the check-result digest. A few dozen PDFs of ~10 kB each per process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from smart_app.core.documents import PatientIdentity

DEFAULT_SIZE = 64


class ReportCache:
    """A bounded, thread-safe LRU of rendered report PDFs (`size` 0 renders every time)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self.renders = 0  # how many times the renderer actually ran (for tests and the benchmark)
        self._pdfs: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def pdf(
        self,
        check_result: Mapping[str, Any],
        identity: PatientIdentity,
        clinician: str,
        render: Callable[[Mapping[str, Any], PatientIdentity, str], bytes],
    ) -> bytes:
        """The PDF for these inputs: the kept one, or `render(...)` once and kept."""
        key = report_key(check_result, identity, clinician)
        with self._lock:
            kept = self._pdfs.get(key)
            if kept is not None:
                self._pdfs.move_to_end(key)
                return kept
        pdf = render(check_result, identity, clinician)
        with self._lock:
            self.renders += 1
            if self.size > 0:
                self._pdfs[key] = pdf
                while len(self._pdfs) > self.size:
                    self._pdfs.popitem(last=False)
        return pdf


def report_key(check_result: Mapping[str, Any], identity: PatientIdentity, clinician: str) -> bytes:
    """A digest of everything the PDF is made from (key order does not matter)."""
    inputs = [check_result, dataclasses.asdict(identity), clinician]
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=20).digest()


REPORTS = ReportCache()
