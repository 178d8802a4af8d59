"""The project report: its runs, the script that trains them and the one that rebuilds it (``python -m report.NAME``)."""
