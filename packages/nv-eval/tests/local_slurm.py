"""A real single-node Slurm (munge + slurmctld + slurmd) for tests, started from slurm_cluster.sh.

Used by this package's conftest and by the cross-package tests at the repository root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SLURM_SCRIPT = Path(__file__).parent / "slurm_cluster.sh"


class SlurmStartError(RuntimeError):
    """The cluster's daemons did not come up."""


def missing_reason() -> str | None:
    """Why a local Slurm cannot start here, or None when it can."""
    if sys.platform != "linux":
        return "Slurm tests need Linux"
    for tool in ("slurmctld", "slurmd", "munged", "sbatch", "mungekey"):
        if shutil.which(tool) is None:
            return f"{tool} not found: apt-get install -y slurm-wlm munge"
    if os.geteuid() != 0:
        return "the Slurm fixture runs its daemons as root"
    return None


@contextmanager
def local_slurm(*, prefix: str, port: str) -> Iterator[Path]:
    """Start the cluster in a fresh directory; yield its slurm.conf; stop and remove it after."""
    # munged wants every directory above its socket to be a+x: a fresh dir right under /tmp
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    base.chmod(0o755)
    env = {
        **os.environ,
        "SLURM_BASE": str(base),
        "SLURM_PORT": port,
        "SLURM_LINK_ETC": "0",
        "SLURM_CONF": str(base / "etc" / "slurm.conf"),
    }
    res = subprocess.run(
        ["bash", str(SLURM_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120
    )
    if res.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise SlurmStartError(f"the Slurm fixture did not start: {res.stderr[-2000:]}")
    try:
        yield Path(env["SLURM_CONF"])
    finally:
        subprocess.run(
            ["bash", str(SLURM_SCRIPT), "stop"], env=env, capture_output=True, timeout=120
        )
        shutil.rmtree(base, ignore_errors=True)


def slurm_cluster_fixture(*, prefix: str, port_env: str, default_port: str) -> Any:
    """The session fixture ``slurm_cluster`` (the one definition both suites use).

    It yields ``{"SLURM_CONF": ..., "base": ...}`` and points ``SLURM_CONF`` at the cluster
    while the session runs; it skips, with the install command, where Slurm cannot start, and
    fails when the daemons do not come up. Each suite takes its own port (``port_env``) so
    both can run at once.
    """
    import pytest

    @pytest.fixture(scope="session")
    def slurm_cluster() -> Iterator[dict[str, str]]:
        """A real single-node Slurm (munge + slurmctld + slurmd), started for this session."""
        reason = missing_reason()
        if reason:
            pytest.skip(reason)
        port = os.environ.get(port_env, default_port)
        try:
            with local_slurm(prefix=prefix, port=port) as conf:
                old = os.environ.get("SLURM_CONF")
                os.environ["SLURM_CONF"] = str(conf)
                try:
                    yield {"SLURM_CONF": str(conf), "base": str(conf.parent.parent)}
                finally:
                    if old is None:
                        os.environ.pop("SLURM_CONF", None)
                    else:
                        os.environ["SLURM_CONF"] = old
        except SlurmStartError as exc:
            pytest.fail(str(exc))

    return slurm_cluster
