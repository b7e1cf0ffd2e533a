"""Which learned simulators end up unstable, and why (same as `stablesim stability example`)."""

import sys

from stablesim.studies import run_stability_study

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "stablesim-stability"
    run_stability_study(out)
    print(f"report: {out}/report.md")
