"""griddb-prepare-volume: give the GridDB user its directories on the claim.

Run by the init container as root with only CAP_CHOWN and CAP_FOWNER (no
CAP_DAC_OVERRIDE): creates data/ and txnlog/ under the volume's mount point and
makes them (and anything already in them) owned by 10001:10001, mode 0750. A fresh
hostPath or cloud volume is root-owned, and fsGroup does not apply to hostPath.
The mount point itself stays as it is (root-owned on a fresh volume), so this can
run again on every pod start.
"""

from __future__ import annotations

import os
import stat
import sys

from . import config

UID = GID = 10001


def _fix_tree(top: str, uid: int, gid: int) -> int:
    """chown top and, when it was not ours yet, everything below it. Returns the count."""
    st = os.lstat(top)
    changed = 0
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(top, uid, gid)
        changed += 1
    if stat.S_IMODE(st.st_mode) != 0o750:
        os.chmod(top, 0o750)  # CAP_FOWNER: allowed on files root does not own
    if changed == 0:
        return 0  # already ours: the server created what is inside
    # root without CAP_DAC_OVERRIDE may not search a directory it does not own;
    # CAP_FOWNER lets it open the modes up (o+rx) while it works, then close them
    os.chmod(top, 0o755)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                os.chmod(path, stat.S_IMODE(st.st_mode) | 0o005)
            os.chown(path, uid, gid, follow_symlinks=False)
            changed += 1
    for dirpath, dirnames, _ in os.walk(top, topdown=False):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o005)
    os.chmod(top, 0o750)
    return changed


def prepare(storage_dir: str = config.STORAGE_DIR, uid: int = UID, gid: int = GID) -> None:
    if not os.path.isdir(storage_dir):
        raise SystemExit(f"griddb-prepare-volume: {storage_dir} is not a directory "
                         "(is the volume mounted?)")
    for name in ("data", "txnlog"):
        path = os.path.join(storage_dir, name)
        created = False
        if not os.path.isdir(path):
            os.mkdir(path, 0o750)
            created = True
        n = _fix_tree(path, uid, gid)
        print(f"griddb-prepare-volume: {path} {'created' if created else 'exists'}, "
              f"owner {uid}:{gid}, {n} ownership change(s)")


def main() -> int:
    prepare(os.environ.get("GRIDDB_STORAGE_DIR", config.STORAGE_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
