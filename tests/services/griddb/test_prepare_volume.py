"""griddb-prepare-volume on a root-owned volume (needs root to chown, as in the init container)."""

from __future__ import annotations

import os
import stat

import pytest

from griddb_node import prepare_volume

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown to 10001 needs root")


def owner(path):
    st = os.lstat(path)
    return (st.st_uid, st.st_gid)


def test_fresh_volume_gets_data_and_txnlog_for_10001(tmp_path):
    vol = tmp_path / "storage"
    vol.mkdir()
    prepare_volume.prepare(str(vol))
    for name in ("data", "txnlog"):
        assert owner(vol / name) == (10001, 10001)
        assert stat.S_IMODE(os.stat(vol / name).st_mode) == 0o750
    assert owner(vol) == (0, 0)  # the mount point itself is left alone


def test_existing_foreign_data_is_handed_over(tmp_path):
    vol = tmp_path / "storage"
    (vol / "data" / "sub").mkdir(parents=True)
    (vol / "data" / "sub" / "f.dat").write_text("x")
    (vol / "data" / "a.dat").write_text("x")
    for p in (vol / "data", vol / "data" / "sub", vol / "data" / "sub" / "f.dat",
              vol / "data" / "a.dat"):
        os.chown(p, 1224, 1224)  # as the official image's gsadm left it
    os.chmod(vol / "data" / "sub", 0o700)
    prepare_volume.prepare(str(vol))
    for p in (vol / "data", vol / "data" / "sub", vol / "data" / "sub" / "f.dat",
              vol / "data" / "a.dat", vol / "txnlog"):
        assert owner(p) == (10001, 10001), p
    assert stat.S_IMODE(os.stat(vol / "data" / "sub").st_mode) == 0o700


def test_second_run_changes_nothing(tmp_path, capsys):
    vol = tmp_path / "storage"
    vol.mkdir()
    prepare_volume.prepare(str(vol))
    (vol / "data" / "x.dat").write_text("x")
    os.chown(vol / "data" / "x.dat", 10001, 10001)
    capsys.readouterr()
    prepare_volume.prepare(str(vol))
    out = capsys.readouterr().out
    assert "0 ownership change(s)" in out and "created" not in out


def test_missing_mount_point_is_an_error(tmp_path):
    with pytest.raises(SystemExit) as e:
        prepare_volume.prepare(str(tmp_path / "nope"))
    assert "not a directory" in str(e.value)
