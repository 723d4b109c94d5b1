"""`make test-latest`: the unit tests and nbval against the newest releases of the course's dependencies.

Builds a separate environment (``.venv-latest``) from requirements.txt with every pin removed,
runs the fast unit tests and nbval (quick mode) there, and records the date, the versions that
were tested and the outcome in docs/compatibility.md, so a breaking release shows up here before
students meet it. It is not part of CI's gate: a new release must not turn a submission red.
"""

from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
from pathlib import Path

from tools.notebooks import DOCS_DIR, ROOT, notebook_paths

KEY_PACKAGES = ("torch", "torchvision", "captum", "shap", "catboost", "numpy", "matplotlib", "scikit-image",
                "pandas", "nbval", "jupytext", "grad-cam")
REPORT = DOCS_DIR / "compatibility.md"
SUMMARY_LINE = re.compile(r"=+ (.*\b(passed|failed|error)\b.*) in [0-9.]+s")


def unpinned_requirements(path: Path = ROOT / "requirements.txt") -> list[str]:
    """The package names of a requirements file, without versions (``torch===2.13.0`` -> ``torch``)."""
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.append(re.split(r"[<>=!~ ;]", line, maxsplit=1)[0])
    return names


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, command)), flush=True)
    return subprocess.run(command, cwd=ROOT, text=True, **kwargs)


def build_environment(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)], check=True)
    run([python, "-m", "pip", "install", "--progress-bar", "off", "--upgrade", *unpinned_requirements()], check=True)
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", "."], check=True)
    return python


def versions(python: Path) -> dict[str, str]:
    listing = run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True, check=True).stdout
    found = dict(line.split("==", 1) for line in listing.splitlines() if "==" in line)
    lower = {name.lower(): version for name, version in found.items()}
    return {name: lower.get(name, "not installed") for name in KEY_PACKAGES}


def outcome(python: Path, arguments: list[str], environment: dict | None = None) -> str:
    """The closing line of a pytest run (e.g. '212 passed, 1 failed'), or its exit code."""
    import os

    result = run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q", *arguments], capture_output=True,
                 env={**os.environ, **(environment or {})})
    print(result.stdout[-3000:], result.stderr[-2000:], sep="\n")
    match = SUMMARY_LINE.search(result.stdout)
    return match.group(1) if match else f"no summary (exit code {result.returncode})"


def write_report(found: dict[str, str], results: dict[str, str]) -> None:
    today = datetime.date.today().isoformat()
    rows = "\n".join(f"| {name} | {version} |" for name, version in found.items())
    checks = "\n".join(f"| {what} | {result} |" for what, result in results.items())
    REPORT.write_text(
        f"# Compatibility with the newest releases\n\n"
        f"`make test-latest` builds `.venv-latest` from `requirements.txt` with every pin removed, then runs the\n"
        f"fast unit tests and every notebook in quick mode (nbval) there. It is not part of CI: it tells the\n"
        f"maintainers about a breaking release before students meet it. Last run: **{today}**.\n\n"
        f"| package | newest release tested |\n|---|---|\n{rows}\n\n"
        f"| check | result |\n|---|---|\n{checks}\n")
    print(f"written: {REPORT.relative_to(ROOT)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.latest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-latest")
    parser.add_argument("--mirror", default=str(ROOT.parent / "shared" / "offline" / "data"),
                        help="offline data mirror for nbval (used when it exists)")
    args = parser.parse_args(argv)
    python = build_environment(args.venv)
    offline = {"COURSE_QUICK": "1", "COURSE_OFFLINE": "1" if Path(args.mirror).exists() else "0",
               "COURSE_MIRROR_DIR": args.mirror}
    results = {
        "unit tests (fast)": outcome(python, ["-m", "not student_run and not slow", "tests",
                                              "--ignore=tests/test_site.py"]),
        "notebooks (nbval, quick)": outcome(python, ["--nbval-lax", *map(str, notebook_paths())], offline),
    }
    write_report(versions(python), results)
    return 0 if all(" failed" not in r and "error" not in r and "no summary" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
