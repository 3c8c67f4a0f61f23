"""Problems met while collecting: files that could not be read or understood."""

from __future__ import annotations

from collections.abc import Iterator

from mxguard.checks.registry import Outcome, check, errored, skipped
from mxguard.facts import Snapshot
from mxguard.model import Severity


@check(
    id="collection-problem",
    section="0",
    title="Facts that could not be collected",
    severity=Severity.MEDIUM,
    rationale=(
        "A file mxguard could not read or understand leaves checks without facts; their "
        "verdicts would be guesses, so the gap is reported instead."
    ),
    remediation="Fix or remove the file named in the finding, or run mxguard as root.",
)
def collection_problems(snapshot: Snapshot) -> Iterator[Outcome]:
    """Report every problem the collectors recorded."""
    for problem in snapshot.problems:
        make = skipped if problem.status == "skip" else errored
        yield make(problem.subject, problem.message, file=problem.file, line=problem.line)
