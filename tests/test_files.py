"""mjpod.files: what mjpod reads is a regular file of a bounded size, and what it writes never goes
through a link someone planted. Real files, links, a FIFO and /dev/zero."""

from __future__ import annotations

import os

import pytest

from mjpod import files


def test_a_link_to_dev_zero_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "spec.toml"
    link.symlink_to("/dev/zero")
    with pytest.raises(files.FileRefused, match="is a character device, not a regular file"):
        files.read_bytes(link, 1 << 20, "the sweep spec")


def test_a_fifo_is_refused_at_once(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: nobody ever would."""
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    with pytest.raises(files.FileRefused, match="is a FIFO"):
        files.read_bytes(fifo, 1 << 20, "the sweep spec")


def test_a_file_over_the_limit_is_refused_by_its_size(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2001)
    with pytest.raises(files.FileRefused, match="holds 2,001 bytes, more than the 2,000"):
        files.read_bytes(big, 2000, "the bench result")
    assert files.read_bytes(big, 2001, "the bench result") == b" " * 2001


def test_a_missing_file_is_for_the_caller_to_name(tmp_path):
    with pytest.raises(FileNotFoundError):
        files.read_bytes(tmp_path / "nope", 10, "x")


def test_a_link_planted_at_the_name_is_replaced_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out.md"
    target.symlink_to(victim)
    files.write_text(target, "table")
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_text() == "table"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), files.replacing(target) as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_written_files_get_the_permissions_a_plain_open_gives(tmp_path):
    target = files.write_text(tmp_path / "a.json", "{}")
    plain = tmp_path / "b.json"
    plain.write_text("{}")
    assert target.stat().st_mode == plain.stat().st_mode


def test_short_cuts_what_a_message_quotes():
    assert files.short("x" * 10_000).count("x") < 100
    assert len(files.short(list(range(10**6)))) < 100
    assert files.short("seed") == "'seed'"
