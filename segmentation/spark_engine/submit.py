"""`segments` as a Python application for spark-submit, which runs .py files only:

    PYSPARK_DRIVER_PYTHON=.venv/bin/python spark-submit --master yarn --deploy-mode client \\
        segmentation/spark_engine/submit.py run 'hdfs:///warehouse/sales/' --engine spark --db segments.duckdb
"""

import sys

from segmentation.cli import main

if __name__ == "__main__":
    sys.exit(main())
