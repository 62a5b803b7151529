"""The native benchmark: runs the framework x inference-mode matrix under k6 and writes results and a report."""
