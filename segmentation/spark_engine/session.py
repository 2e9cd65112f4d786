"""The run's SparkSession: started quietly with its local dirs in the run's scratch directory, settings
that keep money exact and time naive, and stopped when the run ends if the run started it.

Nothing is downloaded at run time: no --packages, no Ivy; Spark reads what its own jars (and the
cluster's) can read.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmentation.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = (
    "--engine spark needs pyspark, which is not installed: install the spark extra with "
    "`pip install -c requirements.lock -e '.[spark]'` (it also needs Java 17 or later)."
)
JAVA_HINT = (
    "--engine spark could not start Java: install Java 17 or later (Debian: "
    "`apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."
)

# Every session the engine starts or joins gets these: exact decimals (no precision loss in products:
# a 4-place quantity times a 4-place price keeps its 8 places, as in DuckDB), timestamps without a time
# zone (DuckDB's TIMESTAMP), UTC, and no UI.
SQL_SETTINGS: dict[str, str] = {
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

_LOG4J = """\
rootLogger.level = fatal
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# the shell logger Spark compares with the root's level (else it prints "Setting default log level")
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = fatal
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = fatal
"""


def driver_memory(limit: str | None) -> str | None:
    """A DuckDB-style memory size ('4GB', '14123MiB', '512MB') as Spark's '<MiB>m'; None if unreadable."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*", limit or "", re.IGNORECASE)
    if found is None:
        return None
    number, unit, binary = float(found.group(1)), found.group(2).upper(), found.group(3)
    scale = (1024 if binary else 1000) ** "BKMGT".index(unit or "B")
    return f"{max(int(number * scale / 2**20), 512)}m"


def pyspark_module() -> Any:
    """The pyspark package, or the one-sentence InputError saying how to install it."""
    try:
        import pyspark
        import pyspark.sql  # noqa: F401 - the part the engine uses
    except ImportError as exc:
        raise InputError(INSTALL_HINT) from exc
    return pyspark


def builder_settings(master: str, work: Path, memory: str | None = None) -> dict[str, str]:
    """The settings a new session starts with: local and temp dirs in `work`, quiet logging, no UI."""
    local = work / "spark-local"
    local.mkdir(parents=True, exist_ok=True)
    log4j = work / "spark-log4j2.properties"
    log4j.write_text(_LOG4J)
    java = f"-Dlog4j2.configurationFile=file:{log4j} -Djava.io.tmpdir={local}"
    settings = {
        "spark.master": master,
        "spark.app.name": "segments",
        "spark.local.dir": str(local),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": java,
        "spark.executor.extraJavaOptions": java,
        "spark.jars.ivy": str(work / "spark-ivy"),  # never used: no packages; kept out of ~/.ivy2
        **SQL_SETTINGS,
    }
    if master.startswith("local"):
        settings["spark.sql.shuffle.partitions"] = "8"  # 200 tasks of nothing on one machine otherwise
        memory = driver_memory(memory)
        if memory:  # local mode: the driver JVM is the whole cluster; Spark's 1 GB default spills early
            settings["spark.driver.memory"] = memory
    return settings


@contextlib.contextmanager
def spark_session(master: str, work: Path, memory: str | None = None) -> Iterator[SparkSession]:
    """The active SparkSession if there is one (left running), else a new one stopped on exit."""
    pyspark_module()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in SQL_SETTINGS.items():
            active.conf.set(key, value)
        yield active
        return
    builder = SparkSession.builder
    # under spark-submit (its Python runner sets PYSPARK_GATEWAY_PORT) the master, resources and dirs are
    # spark-submit's; the run adds only the SQL settings its answers depend on
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    settings = dict(SQL_SETTINGS) if submitted else builder_settings(master, work, memory)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # pyspark raises PySparkRuntimeError (JAVA_GATEWAY_EXITED) without Java
        if "JAVA_GATEWAY_EXITED" in str(exc) or "Java gateway" in str(exc) or isinstance(exc, OSError):
            raise InputError(JAVA_HINT) from exc
        raise
    session.sparkContext.setLogLevel("FATAL")
    try:
        yield session
    finally:
        session.stop()
