"""Put everything web's GridDB store needs on a CLASSPATH into one directory, outside the image.

    python prepare_jars.py JARS_DIR        # prints the CLASSPATH: JARS_DIR/*

The one recipe for the tests (tests/services/conftest.py) and tools/bench/api: the client jars
of jars.lock, fetched once (fetch_jars.py, sha256-checked), then web's own row reader compiled
anew from services/web/java-src (build_rows_jar.py), as the image's stages do.
Only the CLASSPATH goes to stdout (the steps' own output goes to stderr). Exits 3 when the jars
cannot be fetched (no Maven Central), so a caller can tell that apart from a failed build.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
JAVA_SOURCE = HERE.parent / "java-src"
CANNOT_FETCH = 3


def main(jars_dir: str) -> int:
    dest = Path(jars_dir)
    if not list(dest.glob("gridstore-*.jar")):
        fetched = subprocess.run([sys.executable, str(HERE / "fetch_jars.py"), str(HERE / "jars.lock"), str(dest)],
                                 stdout=sys.stderr, timeout=180)
        if fetched.returncode != 0:
            print(f"cannot fetch the GridDB client jars into {dest}", file=sys.stderr)
            return CANNOT_FETCH
    subprocess.run([sys.executable, str(HERE / "build_rows_jar.py"), str(JAVA_SOURCE), str(dest)],
                   stdout=sys.stderr, check=True, timeout=180)
    print(dest / "*")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
