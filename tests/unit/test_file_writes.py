"""The stores' file writes: appends keep lines whole after a crash and undo what the disk refused;
a replace leaves the old content or the new one, and no temporary file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from emulator.storage.file_writes import append_lines, replace_file

REPO = Path(__file__).resolve().parents[2]


def test_an_append_after_a_torn_line_starts_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    append_lines(path, b'["first"]\n')  # made when missing
    with path.open("ab") as out:
        out.write(b'["cut sh')  # what kill -9 mid-write leaves
    append_lines(path, b'["second"]\n["third"]\n')
    assert path.read_bytes().split(b"\n") == [
        b'["first"]',
        b'["cut sh',
        b'["second"]',
        b'["third"]',
        b"",
    ]


def test_an_append_the_disk_refuses_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'["kept"]\n')
    # A file size limit stands in for a full disk: the write past it fails with EFBIG (SIGXFSZ
    # ignored), in a child process so that the limit binds nothing else.
    script = textwrap.dedent(
        f"""
        import errno, resource, signal
        from pathlib import Path
        from emulator.storage.file_writes import append_lines
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            append_lines(Path({str(path)!r}), b"x" * 10_000 + b"\\n")
        except OSError as exc:
            assert exc.errno == errno.EFBIG, exc
            print("refused")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "refused"), done.stderr
    assert path.read_bytes() == b'["kept"]\n'


def test_a_replace_swaps_the_whole_content_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    replace_file(path, b"old")
    replace_file(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
