"""Storage faults on real file systems (issue 11, item 5; the memory default of item 4).

A full disk, a read-only directory and a full spill directory are made with real tmpfs mounts (the tests
run as root, as the brief for this part requires; root ignores mode bits, so read-only is a read-only
mount). Each must end in one sentence on stderr, exit 2, the served file byte-for-byte unchanged and no
temp file left. Killed runs' scratch directories are made with a real SIGKILL of `segments run`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from segmentation import faults, ingest, pipeline, scratch
from segmentation.config import RunConfig

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from segmentation.cli import main; sys.exit(main(sys.argv[1:]))"


def _segments(args: list[str], tmpdir: Path, **popen: object) -> subprocess.Popen[str]:
    """`segments ARGS` in a subprocess whose $TMPDIR is tmpdir (its scratch directories go there)."""
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", CLI, *args], cwd=ROOT, env=env, text=True, **popen
    )


def _run_cli(args: list[str], tmpdir: Path) -> subprocess.CompletedProcess[str]:
    proc = _segments(args, tmpdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """Mount a tmpfs of a given size at tmp_path/name; unmounted at the end of the test."""
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        target = tmp_path / name
        target.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], check=True)
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", str(target)], check=True)


def _fill(directory: Path, leave: int) -> None:
    """Allocate a filler file so that `leave` bytes stay free on directory's file system."""
    st = os.statvfs(directory)
    with open(directory / "filler", "wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, st.f_bavail * st.f_frsize - leave)


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated sales file that takes several seconds to segment (40,000 customers, ~1M lines)."""
    out = tmp_path_factory.mktemp("big") / "sales.csv"
    done = subprocess.run(
        [sys.executable, "-c", CLI, "generate", "--customers", "40000", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("spare_mib", [1, 6], ids=["copying-the-file", "duckdb-writing-the-run"])
def test_a_full_disk_is_one_sentence_and_changes_nothing(
    small_run: tuple[Path, pipeline.RunSummary],
    small_csv: Path,
    tmpfs: Callable[[str, str], Path],
    tmp_path: Path,
    spare_mib: int,
) -> None:
    disk = tmpfs("disk", "32m")
    db = disk / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    before = db.read_bytes()
    # 1 MiB free: the copy of the 5 MB file fails (OSError); 6 MiB: the copy fits, DuckDB's writes do not
    _fill(disk, len(before) * (spare_mib > 1) + 2**20)
    work = tmp_path / "tmp"
    work.mkdir()
    done = _run_cli(["run", str(small_csv), "--db", str(db), "--quiet"], work)
    assert done.stderr == (
        f"Error: Cannot write {db}: the disk is full (No space left on device); free space or pass --db on "
        "another disk; nothing was changed.\n"
    )
    assert done.returncode == 2
    assert db.read_bytes() == before
    assert sorted(os.listdir(disk)) == ["filler", "segments.duckdb", "segments.duckdb.lock"]
    assert os.listdir(work) == []  # the run's scratch directory is gone too


def test_a_read_only_directory_is_one_sentence_and_changes_nothing(
    small_run: tuple[Path, pipeline.RunSummary],
    small_csv: Path,
    tmpfs: Callable[[str, str], Path],
    tmp_path: Path,
) -> None:
    disk = tmpfs("disk", "16m")
    db = disk / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    before = db.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    work = tmp_path / "tmp"
    work.mkdir()
    done = _run_cli(["run", str(small_csv), "--db", str(db), "--quiet"], work)
    assert done.stderr == (
        f"Error: Cannot write {db}: the file system is read-only (Read-only file system); pass --db on a "
        "writable disk; nothing was changed.\n"
    )
    assert done.returncode == 2
    assert db.read_bytes() == before
    assert os.listdir(disk) == ["segments.duckdb"]
    assert os.listdir(work) == []
    renamed = _run_cli(["rename", "1", "0", "VIP", "--db", str(db)], work)
    assert renamed.returncode == 2
    assert renamed.stderr.startswith(f"Error: Cannot write {db}: the file system is read-only")


def test_a_full_spill_directory_is_one_sentence_and_changes_nothing(
    small_run: tuple[Path, pipeline.RunSummary],
    big_csv: Path,
    tmpfs: Callable[[str, str], Path],
    tmp_path: Path,
) -> None:
    db = tmp_path / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    before = db.read_bytes()
    spill = tmpfs("spill", "2m")  # $TMPDIR: the run's scratch directory, so DuckDB's spill files, go here
    done = _run_cli(["run", str(big_csv), "--db", str(db), "--quiet", "--memory-limit", "100MB"], spill)
    assert done.stderr == (
        f"Error: Cannot write temporary files in {spill}: the disk is full (No space left on device); free "
        "space there, set TMPDIR to a larger disk or raise --memory-limit; nothing was changed.\n"
    )
    assert done.returncode == 2
    assert db.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["segments.duckdb", "spill"]  # it failed before taking the lock
    assert os.listdir(spill) == []


def test_other_errors_keep_their_traceback() -> None:
    assert faults.describe(RuntimeError("No space left on device"), Path("x.duckdb")) is None
    assert faults.describe(duckdb.CatalogException("Table runs does not exist"), Path("x.duckdb")) is None
    assert faults.describe(FileNotFoundError(errno.ENOENT, "No such file", "x"), Path("x.duckdb")) is None
    denied = PermissionError(errno.EACCES, "Permission denied", "/srv/seg/segments.duckdb.lock")
    assert faults.describe(denied, Path("/srv/seg/segments.duckdb")) == (
        "Cannot write /srv/seg/segments.duckdb: permission is denied (Permission denied); make /srv/seg "
        "writable for this user or pass --db elsewhere; nothing was changed."
    )
    out = OSError(errno.ENOSPC, "No space left on device", "/srv/seg/list.csv")  # not the DB: no claim
    assert faults.describe(out, Path("/srv/seg/segments.duckdb")) == (
        "Cannot write /srv/seg/list.csv: the disk is full (No space left on device)."
    )
    tmp = OSError(errno.EROFS, "Read-only file system", f"/ro/.{scratch.PREFIX}1-0123456789abcdef")
    assert faults.describe(tmp, Path("/srv/seg/segments.duckdb")) == (
        f"Cannot write temporary files in {tempfile.gettempdir()}: the file system is read-only (Read-only "
        "file system); set TMPDIR to a writable directory; nothing was changed."
    )


# --- Scratch directories in $TMPDIR -------------------------------------------------------------------


def _scratch_dirs(tmpdir: Path) -> set[str]:
    return {n for n in os.listdir(tmpdir) if n.startswith("segments-")}


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after 120 s"
        time.sleep(0.01)


def test_the_next_run_removes_a_killed_runs_scratch_but_not_a_live_ones(
    big_csv: Path,
    small_run: tuple[Path, pipeline.RunSummary],
    small_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    (tmpdir / "segments-run-notes").mkdir()  # not a run's name: never touched
    db = tmp_path / "segments.duckdb"
    shutil.copyfile(small_run[0], db)
    killed = _segments(["run", str(big_csv), "--db", str(db), "--quiet"], tmpdir)
    _wait_for(lambda: len(_scratch_dirs(tmpdir)) > 1, killed, "its scratch directory appeared")
    time.sleep(1.0)  # well into reading the input
    killed.kill()
    killed.wait()
    dead = _scratch_dirs(tmpdir) - {"segments-run-notes"}
    assert len(dead) == 1  # kill -9 leaves it
    live = _segments(["run", str(big_csv), "--db", str(tmp_path / "other.duckdb"), "--quiet"], tmpdir)
    try:
        # the next run removes the dead run's directory, then makes its own
        _wait_for(lambda: len(_scratch_dirs(tmpdir) - dead) > 1, live, "its scratch directory appeared")
        live_dir = _scratch_dirs(tmpdir) - dead - {"segments-run-notes"}
        assert len(live_dir) == 1 and not dead & _scratch_dirs(tmpdir)
        # a run while that one is live leaves its directory alone, and removes its own when done
        seen: list[Path | None] = []
        monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
        pipeline.run(
            RunConfig(inputs=(small_csv,), db_path=db, progress=False, k=3),
            progress=lambda _: seen.append(scratch.current()),
        )
        assert live.poll() is None  # it was running all along
        assert _scratch_dirs(tmpdir) == live_dir | {"segments-run-notes"}
        assert seen and seen[0] is not None and seen[0].parent == tmpdir
        assert seen[0].name.startswith(f"segments-run-{os.getpid()}-")
        assert not seen[0].exists()
    finally:
        live.kill()
        live.wait()


def test_remove_dead_takes_only_unlocked_exact_names(tmp_path: Path) -> None:
    def make(name: str, lock: bool = True) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "spill.tmp").write_bytes(b"x")
        if lock:
            (path / scratch.LOCK_NAME).touch()
        return path

    live = make("segments-run-123-0123456789abcdef")
    dead = make("segments-run-456-fedcba9876543210")
    half_removed = make("segments-run-789-00112233445566aa", lock=False)
    others = [make("segments-run-1-0123"), make("segments-0cfpw8y0"), make("segments-run-1-0123456789ABCDEF")]
    target = make("target")
    (tmp_path / "segments-run-5-aaaaaaaaaaaaaaaa").symlink_to(target)
    fd = os.open(live / scratch.LOCK_NAME, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as the live run holds it
    try:
        assert sorted(scratch.remove_dead(tmp_path)) == sorted([dead, half_removed])
    finally:
        os.close(fd)
    assert live.exists() and all(p.exists() for p in others)
    assert (target / "spill.tmp").exists() and (tmp_path / "segments-run-5-aaaaaaaaaaaaaaaa").is_symlink()
    assert not dead.exists() and not half_removed.exists()


def test_ingest_temp_files_live_in_the_runs_scratch_directory(tmp_path: Path) -> None:
    source, root = tmp_path / "input.csv", tmp_path / "tmp"
    source.write_text("a,b\n1,2\n")
    root.mkdir()
    with scratch.run_scratch(root) as work, ingest._Inputs((source,), []) as inputs:
        assert inputs.tmp_dir().parent == work
        config = pipeline._duckdb_config(RunConfig(inputs=()), str(work / "spill"))
        assert config["temp_directory"] == str(work / "spill")
    assert os.listdir(root) == []


# --- The default memory limit ---------------------------------------------------------------------------


def test_default_memory_limit_from_meminfo_and_cgroup(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree:         1000 kB\n")
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    v2.write_text("max\n")
    v1.write_text("9223372036854771712\n")  # cgroup v1 without a limit
    assert scratch.default_memory_limit(meminfo, (v2, v1)) == f"{int(16384000 * 1024 * 0.6) // 2**20}MiB"
    v2.write_text(f"{4 * 2**30}\n")  # a container limited to 4 GiB
    assert scratch.default_memory_limit(meminfo, (v2, v1)) == "2457MiB"
    assert scratch.default_memory_limit(tmp_path / "none", (tmp_path / "none2",)) is None


def test_run_memory_limit_is_a_fourteenth_of_the_machine_within_the_cgroup(tmp_path: Path) -> None:
    """A run's DuckDB default: 1/14 of physical memory, at least 1 GiB, at most 60% of the cgroup's."""
    meminfo = tmp_path / "meminfo"
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    v2.write_text("max\n")
    meminfo.write_text(f"MemTotal:       {24 * 2**20} kB\n")  # 24 GiB
    assert scratch.run_memory_limit(meminfo, (v2, v1)) == f"{24 * 1024 // 14}MiB"  # 1755MiB
    meminfo.write_text(f"MemTotal:       {8 * 2**20} kB\n")  # 8 GiB: the 1 GiB floor
    assert scratch.run_memory_limit(meminfo, (v2, v1)) == "1024MiB"
    meminfo.write_text(f"MemTotal:       {64 * 2**20} kB\n")
    v2.write_text(f"{2 * 2**30}\n")  # a container limited to 2 GiB: 60% of it
    assert scratch.run_memory_limit(meminfo, (v2, v1)) == "1228MiB"
    assert scratch.run_memory_limit(tmp_path / "none", (tmp_path / "none2",)) is None


def test_a_run_connection_gets_the_default_memory_limit_on_this_machine(tmp_path: Path) -> None:
    total = next(
        int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal:")
    )
    limits = [total]
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = Path(path).read_text().strip() if Path(path).exists() else "max"
        if text != "max" and int(text) < 2**60:
            limits.append(int(text))
    cap = int(min(limits) * 0.6) // 2**20
    expected = f"{min(max(2**30, int(total / 14)) // 2**20, cap)}MiB"
    config = pipeline._duckdb_config(RunConfig(inputs=()), str(tmp_path))
    assert config["memory_limit"] == expected
    with duckdb.connect(config=config) as con:
        bytes_set = con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert bytes_set is not None and bytes_set[0].endswith("GiB")
    assert (
        pipeline._duckdb_config(RunConfig(inputs=(), memory_limit="3GB"), str(tmp_path))["memory_limit"]
        == "3GB"
    )
