"""krefbench's analysis: what reads results files and decides.

Run a command as a module with bench/ on the path (run.sh does this):
    PYTHONPATH=bench python3 -m analysis.compare A.csv B.csv
Modules import each other relatively; only decide.py, run as a file, puts
bench/ on the path itself.
"""
