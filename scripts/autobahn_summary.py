#!/usr/bin/env python3
"""Summarise one Autobahn|Testsuite report and decide pass or fail.

Used by scripts/autobahn.sh; runnable by hand on a finished run:

    python3 scripts/autobahn_summary.py server reports/server/index.json \
        [--agent rfc6455] [--expected N] [--allow-unimplemented '12.*,13.*']

Prints exactly one line,

    autobahn ROLE: N ok, N non-strict, N informational, N unimplemented, N failed of N

then, if any case fails the gate, one line per failing case (id, behavior, behaviorClose),
the first 50 of them.
Exits 0 only if every case's `behavior` and `behaviorClose` are OK or INFORMATIONAL, except
that UNIMPLEMENTED is allowed for cases matching --allow-unimplemented. A missing report, an
agent missing from it, or fewer cases than --expected (wstest stops early when a peer dies)
fail too: absent cases are counted as failed.

Each case lands in one bucket, the worst of its two verdicts in the order
failed > non-strict > unimplemented > informational > ok. Any verdict other than OK,
NON-STRICT, INFORMATIONAL or UNIMPLEMENTED counts as failed.
"""

import argparse
import json
import re
import sys

BUCKETS = ["ok", "non-strict", "informational", "unimplemented", "failed"]
VERDICT_BUCKET = {
    "OK": "ok",
    "INFORMATIONAL": "informational",
    "UNIMPLEMENTED": "unimplemented",
    "NON-STRICT": "non-strict",
}
SEVERITY = {"ok": 0, "informational": 1, "unimplemented": 2, "non-strict": 3, "failed": 4}
# Failing cases listed before "... and N more" (216 UNIMPLEMENTED compression cases would
# otherwise bury the rest of a CI log); the report has them all.
MAX_LISTED = 50


def patterns(text):
    """Autobahn-style case patterns ('1.*,9.1.2') as anchored regexes."""
    out = []
    for item in (text or "").split(","):
        item = item.strip()
        if item:
            out.append(re.compile("^" + re.escape(item).replace(r"\*", ".*") + "$"))
    return out


def case_key(case_id):
    """Sort '9.10.1' after '9.2.1'."""
    return [int(p) if p.isdigit() else p for p in case_id.split(".")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", help="label for the summary line: server or client")
    parser.add_argument("index", help="path to the report's index.json")
    parser.add_argument("--agent", default="rfc6455")
    parser.add_argument("--expected", type=int, default=None,
                        help="number of cases wstest said it would run")
    parser.add_argument("--allow-unimplemented", default="",
                        help="comma-separated case patterns where UNIMPLEMENTED passes")
    args = parser.parse_args()

    problems = []
    try:
        with open(args.index) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        report = {}
        problems.append(f"no readable report at {args.index}: {e}")
    cases = report.get(args.agent)
    if cases is None:
        if report:
            problems.append(f"agent {args.agent!r} not in report (agents: {sorted(report)})")
        cases = {}

    allowed = patterns(args.allow_unimplemented)
    counts = dict.fromkeys(BUCKETS, 0)
    failing = []
    for case_id in sorted(cases, key=case_key):
        result = cases[case_id]
        behavior = str(result.get("behavior"))
        behavior_close = str(result.get("behaviorClose"))
        bucket = max((VERDICT_BUCKET.get(v, "failed") for v in (behavior, behavior_close)),
                     key=SEVERITY.__getitem__)
        counts[bucket] += 1
        passes = bucket in ("ok", "informational") or (
            bucket == "unimplemented" and any(p.match(case_id) for p in allowed))
        if not passes:
            failing.append((case_id, behavior, behavior_close))

    total = len(cases)
    if args.expected is not None and total < args.expected:
        missing = args.expected - total
        counts["failed"] += missing
        total = args.expected
        problems.append(f"{missing} of {args.expected} cases missing from the report")
    if total == 0:
        problems.append("no cases ran")

    print(f"autobahn {args.role}: " + ", ".join(f"{counts[b]} {b}" for b in BUCKETS)
          + f" of {total}")
    for case_id, behavior, behavior_close in failing[:MAX_LISTED]:
        print(f"  failing case {case_id}: behavior={behavior} behaviorClose={behavior_close}")
    if len(failing) > MAX_LISTED:
        print(f"  ... and {len(failing) - MAX_LISTED} more failing cases (see {args.index})")
    for problem in problems:
        print(f"  {problem}")
    return 1 if failing or problems else 0


if __name__ == "__main__":
    sys.exit(main())
