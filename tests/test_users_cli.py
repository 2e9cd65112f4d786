"""`segments users add|list|remove` and segmentation.users: the users file is JSON with scrypt hashes,
written atomically with mode 0600; every bad input is one sentence naming the file, exit 2, and the file
stays byte for byte as it was."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from segmentation import users
from segmentation.cli import main
from segmentation.errors import InputError


def add(path: Path, name: str, role: str, password: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["users", "add", name, "--role", role, "--password-stdin", "--users", str(path)])


@pytest.fixture
def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "users.json"
    assert add(path, "alice", "admin", "correct horse", monkeypatch) == 0
    assert add(path, "vera@example.com", "viewer", "viewer-pass", monkeypatch) == 0
    capsys.readouterr()
    return path


def test_add_writes_scrypt_hashes_with_mode_0600(
    users_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(users_file.read_text())
    assert set(data["users"]) == {"alice", "vera@example.com"}
    alice = data["users"]["alice"]
    assert alice["role"] == "admin" and alice["hash"].startswith("scrypt:")
    assert check_password_hash(alice["hash"], "correct horse")
    assert "correct horse" not in users_file.read_text()
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    assert [p.name for p in users_file.parent.iterdir()] == ["users.json"]  # no temp file left
    assert main(["users", "list", "--users", str(users_file)]) == 0
    assert capsys.readouterr().out.splitlines() == ["alice             admin", "vera@example.com  viewer"]


def test_add_again_replaces_role_and_password(
    users_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add(users_file, "alice", "exporter", "new password", monkeypatch) == 0
    assert "replaced user alice (exporter)" in capsys.readouterr().out
    alice = users.load(users_file)["alice"]
    assert alice.role == "exporter" and users.verify(users.load(users_file), "alice", "new password")
    assert users.verify(users.load(users_file), "alice", "correct horse") is None


def test_remove(users_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "remove", "alice", "--users", str(users_file)]) == 0
    assert "removed user alice" in capsys.readouterr().out
    assert list(users.load(users_file)) == ["vera@example.com"]


def test_env_variable_names_the_file(
    users_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEGMENTATION_USERS", str(users_file))
    assert main(["users", "list"]) == 0
    assert "alice" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "stdin", "sentence"),
    [
        (
            ["add", "bad name", "--role", "viewer"],
            "long enough",
            "user name 'bad name' is not allowed; expected",
        ),
        (["add", "x" * 65, "--role", "viewer"], "long enough", "is not allowed; expected 1 to 64 letters"),
        (
            ["add", "bob", "--role", "boss"],
            "long enough",
            "role 'boss' is unknown; expected viewer, exporter",
        ),
        (["add", "bob", "--role", "viewer"], "short", "the password has 5 characters; expected at least 8."),
        (["add", "bob", "--role", "viewer"], "", "the password has 0 characters; expected at least 8."),
        (["remove", "carol"], "", "no user named 'carol'; `segments users list` shows the names."),
    ],
)
def test_bad_input_is_one_sentence_and_changes_nothing(
    users_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    sentence: str,
) -> None:
    before = users_file.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin + "\n"))
    extra = ["--password-stdin"] if argv[0] == "add" else []
    assert main(["users", *argv, *extra, "--users", str(users_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {users_file}: ") and sentence in err and err.count("\n") == 1, err
    assert users_file.read_bytes() == before
    assert [p.name for p in users_file.parent.iterdir()] == ["users.json"]


def test_no_users_file_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SEGMENTATION_USERS", raising=False)
    assert main(["users", "list"]) == 2
    assert capsys.readouterr().err == (
        "Error: No users file: pass --users FILE or set SEGMENTATION_USERS to the users file's path.\n"
    )


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ('{"users": [', "not valid JSON at line 1 column 12."),
        ('["alice"]', 'expected a JSON object {"users": {NAME: {"role": ..., "hash": ...}}}.'),
        (
            '{"users": {"alice": {"role": "root", "hash": "scrypt:x"}}}',
            "user 'alice': role 'root' is unknown",
        ),
        ('{"users": {"alice": {"role": "admin", "hash": "plain"}}}', "user 'alice' has no scrypt or pbkdf2"),
        ('{"users": {"a b": {"role": "admin", "hash": "scrypt:x"}}}', "user name 'a b' is not allowed"),
        ('{"users": {"alice": "admin"}}', 'user \'alice\' needs an object with "role" and "hash" strings.'),
    ],
)
def test_malformed_file_is_one_sentence(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    sentence: str,
) -> None:
    path = tmp_path / "users.json"
    path.write_text(text)
    assert main(["users", "list", "--users", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {path}: ") and sentence in err and err.count("\n") == 1, err
    # adding to a malformed file refuses too, and leaves it as it was
    assert add(path, "bob", "viewer", "long enough", monkeypatch) == 2
    assert path.read_text() == text


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"users file not found; create it with `segments users add"):
        users.load(tmp_path / "none.json")
    with pytest.raises(InputError, match=r"is a directory; expected the users file"):
        users.load(tmp_path)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match=r"not UTF-8 text; expected JSON"):
        users.load(tmp_path / "bin.json")
    with pytest.raises(InputError, match=r"the directory .*missing does not exist"):
        users.add(tmp_path / "missing" / "users.json", "bob", "viewer", "long enough")


def test_prompts_twice_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.json"
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    answers = iter(["typed password", "typed password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["users", "add", "bob", "--role", "exporter", "--users", str(path)]) == 0
    assert users.verify(users.load(path), "bob", "typed password") is not None
    answers = iter(["typed password", "typo password"])
    assert main(["users", "add", "carl", "--role", "exporter", "--users", str(path)]) == 2
    assert "the two passwords typed for 'carl' differ; nothing was changed." in capsys.readouterr().err
    assert list(users.load(path)) == ["bob"]


def test_no_terminal_needs_password_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.json"
    monkeypatch.setattr("sys.stdin", io.StringIO("a password\n"))
    assert main(["users", "add", "bob", "--role", "viewer", "--users", str(path)]) == 2
    assert "no terminal to ask for the password on; pass --password-stdin." in capsys.readouterr().err
    assert not path.exists()


def test_verify_unknown_name_and_wrong_password(users_file: Path) -> None:
    known = users.load(users_file)
    assert users.verify(known, "alice", "correct horse") == known["alice"]
    assert users.verify(known, "alice", "wrong horse") is None
    assert users.verify(known, "nobody", "correct horse") is None
    assert users.verify(known, "alice", "x" * 2000) is None
