"""Neural ODE on leapfrog layers: plain vs corrected gradients (same as `stablesim ode example`).

Run: .venv/bin/python examples/ode_zigzag.py [OUT_DIR]
"""

import sys

from stablesim.studies import run_ode_zigzag_study

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "stablesim-ode"
    for row in run_ode_zigzag_study(out, layers=(8, 16, 32, 64), updates=1500):
        print(row)
    print(f"report: {out}/report.md")
