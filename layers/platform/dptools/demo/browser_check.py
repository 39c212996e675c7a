"""Open the demo's report in headless Chromium (Debian's `chromium` package) and read back, per chart,
what the page's script stamped once plotly had drawn it (dptools.demo.report): a chart with no marks or
no data points, or whose stamp is missing because the script never ran, is a problem."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dptools.demo.report import CHARTS

INSTALL_HINT = "chromium is not installed: apt-get install -y chromium (Debian's package)"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
VIRTUAL_TIME_MS = 20_000
TIMEOUT_S = 120


class ChromiumMissing(RuntimeError):
    """No headless browser to open the report with."""


@dataclass(frozen=True)
class RenderedChart:
    name: str
    marks: int | None  # SVG marks in the plot area; None when the page's script did not stamp it
    points: int | None

    @property
    def problem(self) -> str | None:
        if self.marks is None or self.points is None:
            return f"{self.name}: not rendered (the page's script did not run)"
        if self.marks == 0 or self.points == 0:
            return f"{self.name}: empty ({self.marks} marks, {self.points} data points)"
        return None


def chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumMissing(INSTALL_HINT)


def rendered_dom(report: Path) -> str:
    """The report's DOM after its scripts ran, as headless Chromium serialises it."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            f"--virtual-time-budget={VIRTUAL_TIME_MS}",
            "--dump-dom",
            report.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"chromium could not render {report} (exit {done.returncode}): {tail}")
    return done.stdout


def _attribute(tag: str, name: str) -> int | None:
    match = re.search(rf'{name}="(\d+)"', tag)
    return int(match.group(1)) if match else None


def rendered_charts(report: Path) -> list[RenderedChart]:
    """Each chart of the report as the browser drew it."""
    dom = rendered_dom(report)
    charts = []
    for name in CHARTS:
        tag = re.search(rf'<section[^>]*\bid="{name}"[^>]*>', dom)
        opening = tag.group(0) if tag else ""
        charts.append(
            RenderedChart(
                name, _attribute(opening, "data-rendered-marks"), _attribute(opening, "data-rendered-points")
            )
        )
    return charts


def report_problems(report: Path) -> list[str]:
    """What is wrong with the rendered report: nothing when every chart drew its data."""
    return [c.problem for c in rendered_charts(report) if c.problem]
