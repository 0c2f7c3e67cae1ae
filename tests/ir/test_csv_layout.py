"""Folder layout (spectra.csv + experiment.json): round trips and one test per malformed input."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from operando.cli.main import main
from operando.errors import InputError
from operando.ir.data.csv_layout import (
    export_dataset,
    import_folder,
    read_experiment_folder,
    spectra_csv_text,
    write_experiment_folder,
)
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Experiment, ExperimentMeta

META = {
    "name": "cell-a", "working_electrode": "Cu", "counter_electrode": "Li", "protocol": "galvanostatic",
    "electrolyte": {"salt": {"name": "LiPF6", "smiles": "[Li+].F[P-](F)(F)(F)(F)F", "molarity": 1.0},
                    "solvents": [{"name": "EC", "smiles": "C1COC(=O)O1", "fraction": 0.5},
                                 {"name": "DMC", "smiles": "COC(=O)OC", "fraction": 0.5}],
                    "fraction_basis": "weight"},
}


def make_experiment(name: str, n: int = 5, w: int = 7, seed: int = 0, current: bool = True) -> Experiment:
    rng = np.random.default_rng(seed)
    meta = ExperimentMeta.from_dict({**META, "name": name})
    # Awkward wavenumbers (not round decimals) so the header text must be exact.
    wavenumber = np.sort(rng.uniform(780.0, 2020.0, w))
    absorbance = rng.normal(0.3, 0.2, (n, w)).astype(np.float32)
    absorbance[0, 0] = np.float32(1e-7) / 3  # tiny and odd values must survive too
    return Experiment(meta, time_s=np.cumsum(rng.uniform(1.0, 100.0, n)), voltage_v=rng.uniform(0, 3, n),
                      wavenumber_cm1=wavenumber, absorbance=absorbance,
                      current_ma=rng.normal(0, 1, n) if current else None)


def assert_same(a: Experiment, b: Experiment) -> None:
    assert a.meta == b.meta
    for attr in ("time_s", "voltage_v", "wavenumber_cm1"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert (a.current_ma is None) == (b.current_ma is None)
    if a.current_ma is not None:
        np.testing.assert_array_equal(a.current_ma, b.current_ma)
    # bitwise equality after the float32 storage cast
    assert np.asarray(a.absorbance, np.float32).tobytes() == np.asarray(b.absorbance, np.float32).tobytes()


# --------------------------------------------------------------------------- round trips

def test_dataset_round_trip_through_folders_and_hdf5(tmp_path):
    ds = OperandoDataset([make_experiment("cell-b", seed=1),
                          make_experiment("cell-a", seed=2, current=False)],
                         simulated=True, description="toy")
    export_dataset(ds, tmp_path / "tree")
    back = import_folder(tmp_path / "tree")
    assert back.simulated is True and back.description == "toy"
    # import sorts by folder name
    assert back.names == ["cell-a", "cell-b"]
    for e in back:
        assert_same(ds[e.name], e)
    # import -> h5 -> export -> import is exact as well
    back.save(tmp_path / "data.h5")
    again = OperandoDataset.load(tmp_path / "data.h5")
    export_dataset(again, tmp_path / "tree2")
    third = import_folder(tmp_path / "tree2")
    for e in third:
        assert_same(ds[e.name], e)
    assert (tmp_path / "tree" / "cell-a" / "spectra.csv").read_text() == \
        (tmp_path / "tree2" / "cell-a" / "spectra.csv").read_text()


def test_cli_import_export_round_trip(tmp_path, capsys):
    ds = OperandoDataset([make_experiment("cell-a"), make_experiment("cell-c", seed=3)])
    export_dataset(ds, tmp_path / "in")
    assert main(["ir", "import", str(tmp_path / "in"), "-o", str(tmp_path / "data.h5")]) == 0
    assert "imported 2 experiments (10 spectra" in capsys.readouterr().out
    assert main(["ir", "export", str(tmp_path / "data.h5"), "-o", str(tmp_path / "out")]) == 0
    for e in import_folder(tmp_path / "out"):
        assert_same(ds[e.name], e)
    # exporting again over an earlier export is refused without --force, and replaces it whole with it
    capsys.readouterr()
    assert main(["ir", "export", str(tmp_path / "data.h5"), "-o", str(tmp_path / "out")]) == 1
    assert "out: exists and holds an earlier export; pass --force to overwrite it" in capsys.readouterr().err
    assert main(["ir", "export", str(tmp_path / "data.h5"), "-o", str(tmp_path / "out"), "--force"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cell-a", "cell-c", "dataset.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_refuses_unrelated_nonempty_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="refusing to replace"):
        export_dataset(OperandoDataset([make_experiment("cell-a")]), tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_descending_headers_are_stored_ascending(tmp_path):
    folder = tmp_path / "cell"
    folder.mkdir()
    (folder / "experiment.json").write_text(json.dumps(META))
    (folder / "spectra.csv").write_text(
        "Time [s],Voltage [V],2000,1500.5,800\n"
        "0,3.0,0.1,0.2,0.3\n"
        "60,2.9,0.4,0.5,0.6\n")
    e = read_experiment_folder(folder)
    np.testing.assert_array_equal(e.wavenumber_cm1, [800.0, 1500.5, 2000.0])
    np.testing.assert_array_equal(e.absorbance, [[0.3, 0.2, 0.1], [0.6, 0.5, 0.4]])
    assert e.current_ma is None
    np.testing.assert_array_equal(e.voltage_v, [3.0, 2.9])


def test_labelled_columns_in_any_position_blank_lines_and_bom(tmp_path):
    folder = tmp_path / "cell"
    folder.mkdir()
    (folder / "experiment.json").write_text(json.dumps(META))
    (folder / "spectra.csv").write_text(
        "\ufeff900,Voltage [V],1000,Time [s],Current [mA]\r\n"
        "1.5,3.0,2.5,0,-0.1\r\n"
        "\r\n"
        "1.6,2.0,2.6,10,-0.2\r\n\r\n", newline="")
    e = read_experiment_folder(folder)
    np.testing.assert_array_equal(e.time_s, [0, 10])
    np.testing.assert_array_equal(e.current_ma, [-0.1, -0.2])
    np.testing.assert_array_equal(e.absorbance, [[1.5, 2.5], [1.6, 2.6]])


def test_headers_are_written_exactly():
    e = make_experiment("cell-a", w=3)
    header = spectra_csv_text(e).splitlines()[0].split(",")
    assert [float(h) for h in header[3:]] == e.wavenumber_cm1.tolist()


# --------------------------------------------------------------------------- malformed input

GOOD_CSV = ("Time [s],Voltage [V],Current [mA],2000,1000\n"
            "0,3.0,-0.1,0.5,0.25\n"
            "60,2.5,-0.1,0.5,0.25\n"
            "120,2.0,-0.1,0.5,0.25\n")


def write_tree(root: Path, csv_text: str | None = GOOD_CSV, meta: dict | str | None = META,
               folder: str = "cell-a") -> Path:
    d = root / "in" / folder
    d.mkdir(parents=True)
    if csv_text is not None:
        (d / "spectra.csv").write_text(csv_text, encoding="utf-8")
    if meta is not None:
        (d / "experiment.json").write_text(meta if isinstance(meta, str) else json.dumps(meta, indent=2))
    return root / "in"


def assert_import_fails(tmp_path: Path, root: Path, *fragments: str) -> InputError:
    """The import raises one InputError naming all ``fragments``, and the CLI leaves no output."""
    with pytest.raises(InputError) as info:
        import_folder(root)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    out = tmp_path / "out"
    out.mkdir()
    assert main(["ir", "import", str(root), "-o", str(out / "data.h5")]) == 1
    assert list(out.iterdir()) == [], "a failed import left files behind"
    return info.value


def test_good_tree_imports(tmp_path):
    ds = import_folder(write_tree(tmp_path))
    assert ds.names == ["cell-a"] and ds.n_spectra == 3


@pytest.mark.parametrize("header, missing", [
    ("Voltage [V],Current [mA],2000,1000", "Time [s]"),
    ("Time [s],Current [mA],2000,1000", "Voltage [V]"),
])
def test_missing_required_column(tmp_path, header, missing):
    csv_text = header + "\n" + "\n".join(",".join(["1", "2", "3", "4"][: header.count(",") + 1])
                                          for _ in range(2)) + "\n"
    assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "spectra.csv", "line 1",
                        f"missing column '{missing}'")


def test_no_wavenumber_columns(tmp_path):
    err = assert_import_fails(tmp_path, write_tree(tmp_path, "Time [s],Voltage [V]\n0,3\n"),
                              "spectra.csv", "line 1", "found 0 wavenumber columns")
    assert err.line == 1


def test_non_numeric_cell(tmp_path):
    csv_text = GOOD_CSV.replace("60,2.5,-0.1,0.5,0.25", "60,2.5,-0.1,abc,0.25")
    err = assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "spectra.csv", "line 3",
                              "field '2000'", "'abc' is not a number")
    assert err.line == 3 and err.field == "2000"


@pytest.mark.parametrize("cell, problem", [("nan", "NaN"), ("", "empty cell"), ("inf", "infinity")])
def test_nan_or_empty_cell(tmp_path, cell, problem):
    csv_text = GOOD_CSV.replace("120,2.0,-0.1,0.5,0.25", f"120,2.0,-0.1,0.5,{cell}")
    assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "spectra.csv", "line 4", "field '1000'",
                        problem)


def test_empty_voltage_cell_names_voltage(tmp_path):
    csv_text = GOOD_CSV.replace("60,2.5,", "60,,")
    assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "line 3", "field 'Voltage [V]'", "empty")


@pytest.mark.parametrize("second_time, problem", [("0", "time 0 s"), ("-5", "time -5 s")])
def test_duplicated_or_decreasing_times(tmp_path, second_time, problem):
    csv_text = GOOD_CSV.replace("60,2.5", f"{second_time},2.5")
    err = assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "spectra.csv", "line 3",
                              "field 'Time [s]'", problem, "strictly increase")
    assert err.line == 3


def test_bad_wavenumber_header(tmp_path):
    csv_text = GOOD_CSV.replace("2000,1000", "2000,1000 cm-1")
    assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "spectra.csv", "line 1", "column 5",
                        "'1000 cm-1'", "wavenumber")


def test_duplicate_wavenumbers(tmp_path):
    csv_text = GOOD_CSV.replace("2000,1000", "1000.0,1000")
    assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "spectra.csv", "line 1",
                        "wavenumber 1000 cm-1 appears twice (columns 4 and 5)")


@pytest.mark.parametrize("row", ["60,2.5,-0.1,0.5", "60,2.5,-0.1,0.5,0.25,0.7"])
def test_row_of_wrong_length(tmp_path, row):
    csv_text = GOOD_CSV.replace("60,2.5,-0.1,0.5,0.25", row)
    assert_import_fails(tmp_path, write_tree(tmp_path, csv_text), "spectra.csv", "line 3",
                        f"row has {row.count(',') + 1} cells, expected 5")


@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_empty_file(tmp_path, text):
    assert_import_fails(tmp_path, write_tree(tmp_path, text), "spectra.csv", "file is empty")


def test_header_without_rows(tmp_path):
    assert_import_fails(tmp_path, write_tree(tmp_path, GOOD_CSV.splitlines()[0] + "\n"), "spectra.csv",
                        "no data rows")


def test_semicolon_separated(tmp_path):
    assert_import_fails(tmp_path, write_tree(tmp_path, GOOD_CSV.replace(",", ";")), "spectra.csv",
                        "line 1", "comma-separated")


def test_missing_experiment_json(tmp_path):
    assert_import_fails(tmp_path, write_tree(tmp_path, meta=None), str(Path("cell-a") / "experiment.json"),
                        "file not found")


def test_experiment_json_without_spectra_csv(tmp_path):
    assert_import_fails(tmp_path, write_tree(tmp_path, csv_text=None), str(Path("cell-a") / "spectra.csv"),
                        "file not found")


def test_no_experiment_folders(tmp_path):
    (tmp_path / "in").mkdir()
    assert_import_fails(tmp_path, tmp_path / "in", "no experiment found")


def test_invalid_json(tmp_path):
    err = assert_import_fails(tmp_path, write_tree(tmp_path, meta='{"name": "x",\n  oops}'),
                              "experiment.json", "line 2", "invalid JSON")
    assert err.line == 2


def test_json_field_missing(tmp_path):
    meta = {k: v for k, v in META.items() if k != "working_electrode"}
    assert_import_fails(tmp_path, write_tree(tmp_path, meta=meta), "experiment.json",
                        "field 'working_electrode'", "missing required field")


def test_json_field_wrong_type(tmp_path):
    meta = json.loads(json.dumps(META))
    meta["electrolyte"]["salt"]["molarity"] = "one"
    assert_import_fails(tmp_path, write_tree(tmp_path, meta=meta), "experiment.json",
                        "field 'electrolyte.salt.molarity'", "expected a number")


def test_fractions_not_summing_to_one(tmp_path):
    meta = json.loads(json.dumps(META))
    meta["electrolyte"]["solvents"][1]["fraction"] = 0.4
    assert_import_fails(tmp_path, write_tree(tmp_path, meta=meta), "experiment.json",
                        "field 'electrolyte.solvents'", "sum to 0.9")


@pytest.mark.parametrize("where, smiles, problem", [
    # refused before for no model: MeanFlow ignored the recipe's SMILES, ABCC refused it without the file
    (("solvents", 1), "COC(=O)OC)", "unmatched ')'"),
    (("salt", None), "[Li+].F[P-](F)(F)(F)(F", "unclosed '('"),
    (("solvents", 0), "C(C)(C)(C)(C)C", "bonds of total order"),
    (("additives", 0), "c1cc1", "RDKit cannot read it"),
])
def test_invalid_smiles_is_refused_at_reading_naming_file_and_field(tmp_path, where, smiles, problem):
    if "RDKit" in problem:
        pytest.importorskip("rdkit")
    meta = json.loads(json.dumps(META))
    meta["electrolyte"]["additives"] = [{"name": "VC", "smiles": "C1=COC(=O)O1", "weight_percent": 2.0}]
    key, index = where
    entry = meta["electrolyte"][key] if index is None else meta["electrolyte"][key][index]
    entry["smiles"] = smiles
    field = f"electrolyte.{key}" + ("" if index is None else f"[{index}]") + ".smiles"
    assert_import_fails(tmp_path, write_tree(tmp_path, meta=meta), "experiment.json", f"field '{field}'",
                        f"invalid SMILES {smiles!r}", problem)
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=rf"experiment\.json: field '{re.escape(field)}': invalid SMILES"):
        ExperimentMeta.from_json_file(path)


def test_duplicate_experiment_names(tmp_path):
    root = write_tree(tmp_path, folder="first")
    write_tree(tmp_path, folder="second")
    assert_import_fails(tmp_path, root, str(Path("second") / "experiment.json"),
                        str(Path("first") / "experiment.json"), "'cell-a'", "field 'name'")


def test_hidden_folders_are_ignored(tmp_path):
    root = write_tree(tmp_path)
    write_tree(tmp_path, "garbage", folder=".in.partial.tmp")
    assert import_folder(root).names == ["cell-a"]


def test_write_experiment_folder_reads_back(tmp_path):
    e = make_experiment("single", current=False)
    write_experiment_folder(e, tmp_path / "single")
    assert_same(e, read_experiment_folder(tmp_path / "single"))
    assert import_folder(tmp_path / "single").names == ["single"]  # a lone experiment folder


def test_numbers_survive_text_bit_for_bit(tmp_path):
    rng = np.random.default_rng(7)
    e = make_experiment("wide", n=40, w=50)
    # float32 absorbance across many magnitudes and signs; float64 time/voltage/current
    e.absorbance = (rng.standard_normal((40, 50)) * 10.0 ** rng.integers(-30, 6, (40, 50))).astype(np.float32)
    e.time_s = np.cumsum(rng.uniform(1e-6, 1e6, 40))
    write_experiment_folder(e, tmp_path / "wide")
    back = read_experiment_folder(tmp_path / "wide")
    assert back.absorbance.astype(np.float32).tobytes() == e.absorbance.tobytes()
    assert back.time_s.tobytes() == e.time_s.tobytes() and back.current_ma.tobytes() == e.current_ma.tobytes()
    # float64 absorbance (an experiment built in memory) is written exactly as well
    e.absorbance = rng.standard_normal((40, 50))
    write_experiment_folder(e, tmp_path / "wide")
    assert read_experiment_folder(tmp_path / "wide").absorbance.tobytes() == e.absorbance.tobytes()
