#!/usr/bin/python3
"""Charts (PNG + SVG) from a krefbench results file: the command behind
`./run.sh plot RESULTS.csv [--out DIR]` and `./run.sh plot --compare A B`.
What it draws, and how, is bench/analysis/charts.py (its --help)."""
import sys

try:
    from analysis import charts
except ImportError:
    print("plot: the analysis package is not on the path: run ./run.sh plot, "
          "or PYTHONPATH=bench python3 plots/plot.py", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(charts.main())
