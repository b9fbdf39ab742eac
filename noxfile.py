"""Sessions: tests per package (each installs ONLY that package), integration, lint, typecheck, bench.

uv run nox -s tests integration     # what CI and the README run
uv run nox -s "tests(package='nemo-evaluator')"
uv run nox -s lint typecheck
"""

from __future__ import annotations

from pathlib import Path

import nox
import tomllib

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "integration"]

ROOT = Path(__file__).parent
PACKAGES = ["nvidia-eval-commons", "nemo-evaluator", "nemo-eval", "nv-eval"]
# Extras that need hardware this machine does not have (GPU stacks); never installed by tests.
GPU_EXTRAS = {"nemo"}
TEST_TOOLS = [
    "pytest>=8.0",
    "pytest-timeout>=2.3",
    "jsonschema>=4.0",
    "openai>=1.40",
    "hypothesis>=6.100",
]


def _extras(package: str) -> list[str]:
    meta = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
    extras = meta["project"].get("optional-dependencies", {})
    return sorted(e for e in extras if e not in GPU_EXTRAS)


def _all_extras() -> list[str]:
    """``--extra`` arguments for every package's non-GPU extras."""
    args: list[str] = []
    for package in PACKAGES:
        for extra in _extras(package):
            args += ["--extra", extra]
    return args


def _sync(session: nox.Session, *args: str) -> None:
    """Install from uv.lock into the session's virtualenv (exact versions, no dev group)."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install(
        "uv", "sync", "--frozen", "--no-default-groups", "--inexact", *args, env=env
    )
    session.install(*TEST_TOOLS)


def _pytest(session: nox.Session, *paths: str) -> None:
    # exit code 5 = no tests collected: a package without tests yet is not a failure
    session.run(
        "pytest", *paths, *session.posargs, success_codes=[0, 5], env={"PYTHONUNBUFFERED": "1"}
    )


@nox.session
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package alone (plus its extras and test tools): proves each tier installs on its own."""
    extra_args: list[str] = []
    for extra in _extras(package):
        extra_args += ["--extra", extra]
    _sync(session, "--package", package, *extra_args)
    _pytest(session, f"packages/{package}/tests")


@nox.session
def integration(session: nox.Session) -> None:
    """All packages together: the seed patterns end to end."""
    _sync(session, "--all-packages", *_all_extras())
    if not any((ROOT / "tests").glob("**/test_*.py")):
        session.log("no integration tests yet")
        return
    _pytest(session, "tests")


@nox.session
def unicode(session: nox.Session) -> None:
    """Every non-ASCII MMLU test and HellaSwag validation item against a forward pass (slow:
    7,280 MMLU prompts; 20-50 minutes on 2 cores). CI runs the 20-rows-per-subject subset."""
    _sync(session, "--all-packages", *_all_extras())
    session.run(
        "pytest",
        "tests/test_unicode_loglikelihood.py",
        *session.posargs,
        env={"PYTHONUNBUFFERED": "1", "NEMO_EVAL_UNICODE_FULL": "1"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", ".ci/import_cycles.py", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy: strict for the commons package (see [tool.mypy] in pyproject.toml)."""
    _sync(session, "--all-packages")
    session.install("mypy>=1.11", "types-requests", "types-PyYAML")
    session.run("mypy", "packages/nvidia-eval-commons/src")
    for package in PACKAGES[1:]:
        src = f"packages/{package}/src"
        if any(Path(src).rglob("*.py")):
            session.run("mypy", src)


@nox.session
def bench(session: nox.Session) -> None:
    """The performance benchmarks under bench/ (they print ours vs baseline ratios)."""
    _sync(session, "--all-packages", *_all_extras())
    for script in sorted((ROOT / "bench").glob("*.py")):
        session.run("python", str(script), *session.posargs)
