"""scripts/install-browser.sh, `make test`'s one system-wide step: it says which Debian packages
it installs before it installs them, and installs nothing when it need not or cannot.

The script runs for real under `sh`; `apt-get` and `id` are stand-ins on PATH that record how
they were called (and, for the install, what the script had printed by then).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "install-browser.sh"
PLANNED = ["chromium", "chromium-common", "fonts-liberation", "libnss3"]

APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$CALLS"
case "$*" in
  *--simulate*) for p in {planned}; do echo "Inst $p (1.0 Debian:13/stable [amd64])"; done ;;
  install*) cp "$SCRIPT_OUTPUT" "$PRINTED_BEFORE_INSTALL" ;;
esac
"""


def stand_in(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def run_script(tmp_path: Path, uid: int, with_apt: bool = True) -> tuple[str, list[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in(bin_dir, "id", f"#!/bin/sh\necho {uid}\n")
    if with_apt:
        stand_in(bin_dir, "apt-get", APT_GET.format(planned=" ".join(PLANNED)))
    for tool in ("awk", "grep", "tr", "fold", "sed", "printf", "cp", "cat"):
        found = next(
            (Path(d) / tool for d in ("/usr/bin", "/bin") if (Path(d) / tool).exists()), None
        )
        if found:
            (bin_dir / tool).symlink_to(found)
    output = tmp_path / "output.txt"
    env = {
        "PATH": str(bin_dir),  # no Chromium on it
        "CALLS": str(tmp_path / "calls.txt"),
        "SCRIPT_OUTPUT": str(output),
        "PRINTED_BEFORE_INSTALL": str(tmp_path / "printed-before-install.txt"),
    }
    with output.open("w") as stdout:
        result = subprocess.run(
            ["/bin/sh", str(SCRIPT)], stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=60
        )
    assert result.returncode == 0, result.stderr
    calls = tmp_path / "calls.txt"
    before = tmp_path / "printed-before-install.txt"
    return (
        output.read_text(),
        calls.read_text().splitlines() if calls.exists() else [],
        before.read_text() if before.exists() else "",
    )


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs a POSIX sh")
def test_it_lists_the_packages_before_installing_them(tmp_path: Path) -> None:
    output, calls, printed_before_install = run_script(tmp_path, uid=0)

    assert [call.split()[1] for call in calls] == ["update", "install", "install"]
    assert "--simulate" in calls[1] and "-y" in calls[2] and "--no-install-recommends" in calls[2]
    # what was on the screen when the real install began
    assert f"installing {len(PLANNED)} Debian packages" in printed_before_install
    for package in PLANNED:
        assert package in printed_before_install
    assert "not browser" in printed_before_install, "how to skip it instead"
    assert output.startswith(printed_before_install)


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs a POSIX sh")
@pytest.mark.parametrize(
    ("uid", "with_apt", "why"), [(1000, True, "not root"), (0, False, "no apt")]
)
def test_it_installs_nothing_when_it_cannot(
    tmp_path: Path, uid: int, with_apt: bool, why: str
) -> None:
    output, calls, _ = run_script(tmp_path, uid=uid, with_apt=with_apt)

    assert calls == []
    assert why.split()[-1] in output and "skipped" in output


def test_it_installs_nothing_when_a_chromium_is_there(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in(bin_dir, "chromium", "#!/bin/sh\nexit 0\n")
    stand_in(bin_dir, "apt-get", f"#!/bin/sh\necho called > {tmp_path}/called\n")
    result = subprocess.run(
        ["/bin/sh", str(SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == ""
    assert not (tmp_path / "called").exists()
