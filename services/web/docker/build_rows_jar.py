"""Compile web's own Java row reader (services/web/java-src) into a jar beside the GridDB client jars.

    python build_rows_jar.py JAVA_SOURCE_DIR JARS_DIR

The one recipe for the image (its JDK stage), the tests and tools/bench/api. Needs JDK 17's
javac and jar (on PATH, or under JAVA_HOME/bin). The jar is JARS_DIR/griddb-todo-rows.jar, so
a CLASSPATH of JARS_DIR/* (the image's) names it. Compiled against the gridstore jar in
JARS_DIR, with every lint warning an error. Leaves no partial jar behind.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

JAR_NAME = "griddb-todo-rows.jar"


def jdk_tool(name: str) -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / name).exists():
        return str(Path(home) / "bin" / name)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: a JDK 17 is needed (javac and jar on PATH, or JAVA_HOME)")
    return found


def main(source_dir: str, jars_dir: str) -> int:
    sources = sorted(str(p) for p in Path(source_dir).rglob("*.java"))
    if not sources:
        raise SystemExit(f"no .java file under {source_dir}")
    jars = Path(jars_dir)
    if not list(jars.glob("gridstore-*.jar")):
        raise SystemExit(f"no gridstore jar in {jars_dir} (fetch_jars.py puts it there)")
    with tempfile.TemporaryDirectory() as tmp:
        classes = Path(tmp) / "classes"
        subprocess.run([jdk_tool("javac"), "--release", "17", "-Xlint:all", "-Werror",
                        "-cp", str(jars / "*"), "-d", str(classes), *sources], check=True)
        partial = Path(tmp) / JAR_NAME
        subprocess.run([jdk_tool("jar"), "--create", "--file", str(partial), "-C", str(classes), "."],
                       check=True)
        shutil.move(str(partial), str(jars / JAR_NAME))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
