"""Download the jars in jars.lock from Maven Central and verify each one's sha256.

    python fetch_jars.py jars.lock /opt/griddb/jars

Exits non-zero (and leaves no partial file) if a download fails or a checksum differs.
"""

import hashlib
import os
import sys
import urllib.request

REPO = os.environ.get("MAVEN_REPOSITORY", "https://repo1.maven.org/maven2")


def main(lock: str, dest: str) -> int:
    os.makedirs(dest, exist_ok=True)
    for line in open(lock, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        coords, want = line.split()
        group, artifact, version = coords.split(":")
        name = f"{artifact}-{version}.jar"
        url = f"{REPO}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = resp.read()
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            print(f"sha256 mismatch for {coords}: expected {want}, got {got}", file=sys.stderr)
            return 1
        with open(os.path.join(dest, name), "wb") as fh:
            fh.write(data)
        print(f"{name} ok ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
