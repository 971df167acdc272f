"""Install-time helper: extract the Compose Specification's JSON schema for the test suite.

The schema ships inside the `docker-compose` 1.29.2 wheel (`compose/config/compose_spec.json`); the wheel
is downloaded from the package registry (never installed) and only that file is kept. `make test` runs
this once; tests never reach the network.

    python tools/fetch_compose_schema.py var/cache/compose_spec.json
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "docker-compose==1.29.2"
MEMBER = "compose/config/compose_spec.json"


def main(target: str) -> int:
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("docker_compose-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            target_path.write_bytes(archive.read(MEMBER))
    print(f"wrote {target_path} (from {WHEEL})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/cache/compose_spec.json"))
