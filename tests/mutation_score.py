"""The mutation score per module after `mutmut run` (`make mutate` runs both).

Reads `mutmut results --all true` and prints, for each mutated module, how
many mutants its tests killed, and each function's surviving mutants, so
docs/testing.md can say which survived and why.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(?P<module>[\w.]+)\.x[_ǁ](?P<function>.+?)__mutmut_\d+: (?P<status>.+)$")


def main() -> int:
    """Print killed / total per module and the survivors per function."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    totals: dict[str, Counter] = defaultdict(Counter)
    survivors: dict[str, Counter] = defaultdict(Counter)
    for line in out.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        module, status = match["module"], match["status"].strip()
        totals[module][status] += 1
        if status == "survived":
            survivors[module][match["function"].replace("ǁ", ".")] += 1
    print(f"{'module':<32} {'killed':>7} {'total':>6} {'score':>6}")
    for module, counts in sorted(totals.items()):
        total, killed = sum(counts.values()), counts["killed"] + counts["timeout"]
        print(f"{module:<32} {killed:>7} {total:>6} {100 * killed / total:>5.1f}%")
    everything = sum(sum(c.values()) for c in totals.values())
    killed = sum(c["killed"] + c["timeout"] for c in totals.values())
    print(f"{'all':<32} {killed:>7} {everything:>6} {100 * killed / max(everything, 1):>5.1f}%")
    for module, functions in sorted(survivors.items()):
        listed = ", ".join(f"{name} {n}" for name, n in functions.most_common())
        print(f"survivors in {module}: {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
