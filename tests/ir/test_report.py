"""The HTML report: tables, embedded figures, the CLI, and rendering in headless Chromium.

The Chromium test is skipped when no Chromium is installed (``apt-get install chromium``).
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pandas as pd
import pytest
from toy import toy_experiment

from operando.cli.main import main
from operando.errors import InputError
from operando.ir.bench.runner import markdown_table
from operando.ir.data.dataset import OperandoDataset
from operando.ir.report import classify_paths, markdown_table_to_html, write_report

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                           "google-chrome-stable") if shutil.which(n)), None)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
TINY_NET = {"hidden_size": 32, "depth": 1, "num_heads": 2, "patch_size": 32, "time_freq_dim": 32}
# Marks, once the page has loaded, how many images it has and how many failed to decode.
IMAGE_CHECK = ("<script>window.addEventListener('load', function () {"
               "var im = document.images, bad = 0;"
               "for (var i = 0; i < im.length; i++) { if (!(im[i].complete && im[i].naturalWidth > 0)) bad++; }"
               "var p = document.createElement('pre'); p.id = 'image-check';"
               "p.textContent = 'images=' + im.length + ' broken=' + bad; document.body.appendChild(p);"
               "});</script>")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Toy data (6 cells), a results folder with both splits' tables and a tiny trained run."""
    from operando.ir.bench.runner import evaluate, noise_floor, save_result, write_tables
    from operando.ir.bench.splits import Split, make_split, save_split
    from operando.ir.data.preprocess import preprocess_dataset
    from operando.ir.models import build_model
    from operando.ir.models.runs import RunConfig, train_run

    folder = tmp_path_factory.mktemp("report")
    exps = [toy_experiment(f"cu-{i}", seed=i) for i in range(3)]
    exps += [toy_experiment(f"sn-{i}", seed=10 + i, electrode="Sn") for i in range(2)]
    exps += [toy_experiment("lto-ec", n=14, seed=20, electrode="LTO", ec=1.0)]
    raw = OperandoDataset(exps, simulated=True, description="toy <cells> & co")
    data = raw.save(folder / "toy.h5")
    ds = preprocess_dataset(raw)
    results = folder / "results"
    held_out = Split("system", 0, {e.name: np.arange(len(e)) for e in ds if e.name != "lto-ec"},
                     {"lto-ec": np.arange(len(ds["lto-ec"]))})
    save_split(held_out, ds, results / "splits" / "system.csv")
    for split in (make_split(ds, "random", seed=0), held_out):
        save_result(evaluate(build_model("static"), ds, split), results)
        save_result(noise_floor(ds, split), results)
        write_tables(results, split.name)
    config = RunConfig(name="tiny", data=str(data), split="none", out=str(folder / "runs"),
                       model={"n_samples": 4, "model_overrides": TINY_NET},
                       training={"steps": 3, "batch_size": 16, "warmup_steps": 1, "ckpt_every": 1000})
    train_run(config, progress=False)
    return {"folder": folder, "data": data, "results": results, "run": config.run_dir}


@pytest.fixture(scope="module")
def report_with_model(inputs):
    """The report made by the CLI from the two folders alone (data from the run's run.json)."""
    out = inputs["folder"] / "out" / "report.html"
    assert main(["ir", "report", str(inputs["results"]), str(inputs["run"]), "--samples", "4", "-o", str(out)]) == 0
    return out


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_markdown_table_to_html_escapes_and_drops_the_rule():
    md = "| Model | MAE ↓ |\n|---|---|\n| <b>x</b> & y | 1.0 ± 0.1 |\n\nnot a row\n"
    assert markdown_table_to_html(md) == ("<table>\n<tr><th>Model</th><th class=\"num\">MAE ↓</th></tr>\n"
                                          "<tr><td>&lt;b&gt;x&lt;/b&gt; &amp; y</td><td class=\"num\">1.0 ± 0.1</td>"
                                          "</tr>\n</table>")
    with pytest.raises(ValueError):
        markdown_table_to_html("no table here")


def test_a_bar_inside_a_cell_survives_markdown_and_html():
    """Battery system labels hold "|": markdown_table escapes it, the HTML table shows it."""
    md = markdown_table(pd.DataFrame({"system": ["Cu|EC|Li"], "MSE": [0.5]}))
    assert md.splitlines()[2] == "| Cu\\|EC\\|Li | 0.5 |"
    assert '<td>Cu|EC|Li</td><td class="num">0.5</td>' in markdown_table_to_html(md)


def test_report_with_model_has_tables_figures_and_scores(inputs, report_with_model, capsys):
    page = report_with_model.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Both splits' tables, as HTML tables (Static and the noise floor in each).
    assert page.count("<h3>random split</h3>") == 1 and page.count("<h3>system split</h3>") == 1
    assert page.count("<td>Static</td>") == 2 and page.count("<td>Noise floor (noiseless vs measured)</td>") == 2
    # The held-out experiment of the saved system split, with every figure: heatmap, waterfall,
    # difference, forecast versus truth, decomposition of the sequence and of the forecast.
    assert "<h3>lto-ec</h3>" in page and "<h3>cu-0</h3>" not in page
    pngs = images(page)
    assert len(pngs) == 6 == page.count("<img ")
    assert all(p.startswith(PNG_MAGIC) and len(p) > 2000 for p in pngs)
    assert "Spectrum r forecast vs measured" in page and "Spectrum r vs truth" in page
    assert "toy &lt;cells&gt; &amp; co" in page  # the description, escaped
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    # Written atomically: nothing but the report in its folder.
    assert [p.name for p in report_with_model.parent.iterdir()] == ["report.html"]


def test_report_without_model_and_cli_errors(inputs, tmp_path, capsys):
    out = write_report(tmp_path / "r.html", data=inputs["data"], experiments=["cu-1"], title="Toy & data")
    page = out.read_text(encoding="utf-8")
    assert "<title>Toy &amp; data</title>" in page and "none (no run folder given)" in page
    assert "No results folder given" in page and "<h3>cu-1</h3>" in page
    assert len(images(page)) == 4  # no forecast figures without a model
    assert "Spectrum r forecast vs measured" not in page

    capsys.readouterr()
    assert main(["ir", "report", "--data", str(inputs["data"]), "--results", str(inputs["results"]), "-e", "cu-2",
                 "-o", str(tmp_path / "cli.html")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli.html")
    with pytest.raises(InputError, match="neither"):
        classify_paths([tmp_path])
    assert main(["ir", "report", "-o", str(tmp_path / "x.html")]) == 1
    assert main(["ir", "report", "--data", str(inputs["data"]), "-e", "nope", "-o", str(tmp_path / "x.html")]) == 1
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_decompose_cli_with_a_model(inputs, tmp_path):
    out = tmp_path / "dec"
    assert main(["ir", "decompose", str(inputs["data"]), "-e", "cu-0", "--model", str(inputs["run"]), "-k", "1",
                 "-o", str(out)]) == 0
    for name in ("components.csv", "concentrations.csv", "decomposition.png", "forecast_components.csv",
                 "forecast_concentrations.csv", "forecast_decomposition.png", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["forecast"]["n_components"] == summary["measured"]["n_components"] == 1
    pair = summary["forecast_vs_measured"]["pairs"][0]
    assert -1.0 <= pair["spectrum_correlation"] <= 1.0 and summary["model"] == str(inputs["run"])
    header = (out / "forecast_concentrations.csv").read_text().splitlines()[0]
    assert header == "Time [s],Voltage [V],Component 1"


def _chromium(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="operando-chromium-") as profile:
        return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


NO_CHROMIUM = ("the report-rendering test needs headless Chromium, which is not installed: install the Debian "
               "package 'chromium' (apt-get install chromium)")


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_report_renders_in_headless_chromium(report_with_model, tmp_path):
    # 1. A screenshot of the page as a browser opens it (file://, no server).
    shot = tmp_path / "shot.png"
    done = _chromium("--window-size=1200,1600", f"--screenshot={shot}", report_with_model.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000

    # 2. Every image decoded: after the load event, count images whose naturalWidth is 0.
    page = report_with_model.read_text(encoding="utf-8")
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("</body>", IMAGE_CHECK + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", checked.as_uri()).stdout
    assert "images=6 broken=0" in dom, dom[-500:]

    # 3. The check itself catches a corrupted image.
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace("base64,iVBOR", "base64,AAAA", 1).replace("</body>", IMAGE_CHECK + "</body>"),
                      encoding="utf-8")
    assert "images=6 broken=1" in _chromium("--dump-dom", broken.as_uri()).stdout


# After the load event: every figure's natural and shown size and place, and every table cell's
# text and alignment (with its table's class), as JSON in <pre id="layout">.
LAYOUT_CHECK = ("<script>window.addEventListener('load', function () {"
                "var b = getComputedStyle(document.body), out = {figures: [], cells: [], notes: []};"
                "out.content = document.body.clientWidth - parseFloat(b.paddingLeft) - parseFloat(b.paddingRight);"
                "document.querySelectorAll('figure img').forEach(function (im) {"
                " var r = im.getBoundingClientRect();"
                " out.figures.push({natural: im.naturalWidth, shown: r.width, height: r.height,"
                "                   top: Math.round(r.top + window.scrollY), alt: im.alt}); });"
                "document.querySelectorAll('td').forEach(function (td) {"
                " out.cells.push({text: td.textContent.trim(), align: getComputedStyle(td).textAlign,"
                "                 table: td.closest('table').className}); });"
                "document.querySelectorAll('table + p.note').forEach(function (p) { out.notes.push(p.textContent); });"
                "var p = document.createElement('pre'); p.id = 'layout'; p.textContent = JSON.stringify(out);"
                "document.body.appendChild(p); });</script>")


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_report_layout_at_1200_px(report_with_model, tmp_path):
    """At 1200 px: figures shown at their own size (their text not shrunk), figures side by side
    of one height, no half-width figure alone in a row, text left and numbers right in the
    tables, and the curve-resolution table explained in a line."""
    shot = tmp_path / "shot-1200.png"
    assert _chromium("--window-size=1200,1600", f"--screenshot={shot}", report_with_model.as_uri()).returncode == 0
    assert shot.read_bytes()[16:24] == (1200).to_bytes(4, "big") + (1600).to_bytes(4, "big")  # PNG IHDR
    page = tmp_path / "layout.html"
    page.write_text(report_with_model.read_text(encoding="utf-8").replace("</body>", LAYOUT_CHECK + "</body>"),
                    encoding="utf-8")
    dom = _chromium("--window-size=1200,1600", "--dump-dom", page.as_uri()).stdout
    layout = json.loads(html_unescape(re.search(r'<pre id="layout">(.*?)</pre>', dom, re.S).group(1)))
    figures, content = layout["figures"], layout["content"]
    assert len(figures) == 6 and 1000 < content <= 1200
    for f in figures:  # not scaled down: fonts at the size the figure was drawn with
        assert f["shown"] >= 0.97 * f["natural"], f
    rows: dict[int, list[dict]] = {}
    for f in figures:
        rows.setdefault(f["top"], []).append(f)
    for top, row in rows.items():
        heights = [f["height"] for f in row]
        assert max(heights) <= 1.02 * min(heights), row  # side by side: one height, no blank below one
        assert sum(f["shown"] for f in row) >= 0.85 * content, row  # the row is filled, not half empty
    assert max(len(row) for row in rows.values()) == 2  # waterfall beside difference spectra
    cells = [c for c in layout["cells"] if c["table"] != "meta"]
    number = re.compile(r"^[-+−]?(\d|\.\d)")
    for c in cells:
        assert c["align"] == ("right" if number.match(c["text"]) else "left"), c
    assert {c["align"] for c in cells} == {"left", "right"}
    assert any(n.startswith("r is the correlation of two curves") for n in layout["notes"]), layout["notes"]


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)
