"""CLI fuzz test: hostile files and arguments for every ``qdt`` subcommand (issue 13, item 5).

Each case must end with exit status 2, exactly one ``error:`` line on stderr that names the
problem (warnings and progress lines may come before it), no traceback, and every input file
byte-identical afterwards. The table crosses generated hostile files (truncated, random,
empty, devices, deep JSON, wrong types, bad indices, bad styles) with each subcommand, and
adds bad arguments per subcommand. Cases run in-process through ``qdt.cli.main.main`` so the
few hundred of them take seconds; the broken-pipe case needs a real pipe and a subprocess.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qdt.cli.main import main
from tests.conftest import ROOT, SAMPLE_DIR, SAMPLE_PROJECT, TEST_DATA

COMMANDS = ("info", "snapshot", "edit", "query", "clearance", "db", "report", "export-scene")
DEEP = 200_000  # deeper than any JSON parser's recursion limit


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def make_hostile(folder: Path) -> dict[str, Path]:
    """Generated hostile inputs: name → path (every one is refused by every reader)."""
    rng = np.random.default_rng(13)
    files: dict[str, Path] = {}

    def put(name: str, data: bytes | str) -> None:
        path = folder / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        files[name] = path

    sewers = (TEST_DATA / "simple_sewer_features.gpkg").read_bytes()
    put("empty.gpkg", b"")
    put("random.gpkg", rng.bytes(8192))
    put("truncated.gpkg", sewers[:4096])
    put("header_only.gpkg", b"SQLite format 3\x00")
    put("text.gpkg", "这不是一个 GeoPackage\n")
    put("random.shp", rng.bytes(300))
    put("random.tif", rng.bytes(3000))
    put("truncated.tif", (TEST_DATA / "lyon3_dem_10m.tif").read_bytes()[:100])
    put("empty.geojson", b"")
    put("deep.geojson", _nested(DEEP))
    put("notjson.geojson", b"\xff\xfe{{{")
    put("array.geojson", "[1, 2, 3]")
    # CityJSON
    base = json.loads((TEST_DATA / "multi_lod.json").read_text())
    put("deep.city.json", '{"type": "CityJSON", "x": ' + _nested(DEEP) + "}")
    put("random.city.json", rng.bytes(5000))
    for name, mutate in {
        "version_true": lambda d: d.update(version=True),
        "version_number": lambda d: d.update(version=2),
        "zero_scale": lambda d: d["transform"].update(scale=[0.001, 0, 0.001]),
        "text_scale": lambda d: d["transform"].update(scale=["1", 1, 1]),
        "no_cityobjects": lambda d: d.pop("CityObjects"),
        "cityobjects_list": lambda d: d.update(CityObjects=[]),
        "vertices_text": lambda d: d.update(vertices="none"),
        "index_text": lambda d: _every_first_ring(d, "7"),
        "index_float": lambda d: _every_first_ring(d, 1.5),
        "index_out_of_range": lambda d: _every_first_ring(d, 10**9),
        "index_negative": lambda d: _every_first_ring(d, -1),
        "boundaries_text": lambda d: [g.update(boundaries="x") for o in d["CityObjects"].values()
                                      for g in o.get("geometry", [])],
    }.items():
        doc = copy.deepcopy(base)
        mutate(doc)
        put(f"{name}.city.json", json.dumps(doc))
    # devices and missing files
    for name in ("zero.city.json", "zero.qdt", "zero.gpkg", "zero.geojson"):
        (folder / name).symlink_to("/dev/zero")
        files[name] = folder / name
    (folder / "folder.gpkg").mkdir()
    files["folder.gpkg"] = folder / "folder.gpkg"
    files["missing.gpkg"] = folder / "missing.gpkg"
    # projects (in the sample folder's copy, so their layer paths resolve)
    project = json.loads(SAMPLE_PROJECT.read_text(encoding="utf-8"))
    put("deep.qdt", '{"format": "qdt-project", "layers": ' + _nested(DEEP) + "}")
    put("notjson.qdt", "{\"format\": \"qdt-project\", ")
    put("array.qdt", "[]")
    put("binary.qdt", rng.bytes(2000))
    for name, mutate in {
        "no_format": lambda d: d.pop("format"),
        "version_true": lambda d: d.update(version=True),
        "version_future": lambda d: d.update(version=99),
        "version_text": lambda d: d.update(version="1"),
        "layers_dict": lambda d: d.update(layers={}),
        "layer_number": lambda d: d["layers"].__setitem__(0, 5),
        "source_missing": lambda d: d["layers"][0].pop("source"),
        "source_number": lambda d: d["layers"][0].update(source=7),
        "crs_garbage": lambda d: d.update(crs="EPSG:999999"),
        "opacity_text": lambda d: d["layers"][1].update(opacity="half"),
        "breaks_text": lambda d: _style(d, "graduated").update(breaks="oops"),
        "breaks_mixed": lambda d: _style(d, "graduated").update(breaks=[1, "x", 3]),
        "breaks_descending": lambda d: _style(d, "graduated").update(breaks=[5, 3, 1]),
        "ramp_unknown": lambda d: _style(d, "graduated").update(ramp="Rainbow2000"),
        "colour_bad": lambda d: _first_category(d).__setitem__(1, [999, -5, "red"]),
        "colour_short": lambda d: _first_category(d).__setitem__(1, [1]),
        "colour_text": lambda d: _first_category(d).__setitem__(1, "red"),
        "categories_list": lambda d: _style(d, "categorised").update(categories=[1, 2]),
        "category_text": lambda d: _first_category_key(d),
        "style_kind": lambda d: _style(d, "categorised").update(kind="heatmap3d"),
        "style_text": lambda d: d["layers"][3].update(style="red"),
        "field_number": lambda d: _style(d, "categorised").update(field=3),
    }.items():
        doc = copy.deepcopy(project)
        mutate(doc)
        put(f"{name}.qdt", json.dumps(doc, ensure_ascii=False))
    for name in HOSTILE_DATASETS:
        kind = "citymodel" if name.endswith(".city.json") else "raster" if name.endswith(".tif") else "vector"
        doc = {"format": "qdt-project", "version": 1, "crs": "EPSG:4549",
               "layers": [{"name": "hostile", "kind": kind, "source": name, "crs": "EPSG:4549"}]}
        put("only_" + name.replace(".", "_") + ".qdt", json.dumps(doc))
    return files


def _every_first_ring(doc: dict, value: object) -> None:
    """Put ``value`` as the first vertex index of every geometry (whichever LoD the reader picks)."""
    for obj in doc["CityObjects"].values():
        for geom in obj.get("geometry", []):
            ring = geom["boundaries"]
            while isinstance(ring[0], list):
                ring = ring[0]
            ring[0] = value


def _style(doc: dict, kind: str) -> dict:
    return next(layer["style"] for layer in doc["layers"] if (layer.get("style") or {}).get("kind") == kind)


def _first_category(doc: dict) -> list:
    return next(iter(_style(doc, "categorised")["categories"].values()))


def _first_category_key(doc: dict) -> None:
    cats = _style(doc, "categorised")["categories"]
    cats[next(iter(cats))] = "just a label"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A copy of the sample folder plus the hostile files; at the end every file must be as it was."""
    folder = tmp_path_factory.mktemp("fuzz")
    for item in SAMPLE_DIR.iterdir():
        if item.is_file():
            shutil.copy(item, folder / item.name)
    shutil.copy(TEST_DATA / "simple_sewer_features.gpkg", folder / "sewers.gpkg")
    os.chmod(folder / "sewers.gpkg", 0o644)
    files = make_hostile(folder)
    before = digests(folder)
    yield folder, files
    # every input byte-identical after all the cases (each case also checks size and mtime)
    assert digests(folder) == before


def digests(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def signatures(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of every file: any write changes one of them (cheap, per case)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


HOSTILE_DATASETS = [
    "empty.gpkg", "random.gpkg", "truncated.gpkg", "header_only.gpkg", "text.gpkg", "random.shp", "random.tif",
    "truncated.tif", "empty.geojson", "deep.geojson", "notjson.geojson", "array.geojson", "deep.city.json",
    "random.city.json", "version_true.city.json", "version_number.city.json", "zero_scale.city.json",
    "text_scale.city.json", "no_cityobjects.city.json", "cityobjects_list.city.json", "vertices_text.city.json",
    "index_text.city.json", "index_float.city.json", "index_out_of_range.city.json", "index_negative.city.json",
    "boundaries_text.city.json", "zero.city.json", "zero.gpkg", "zero.geojson", "folder.gpkg", "missing.gpkg",
]
BROKEN_GEOMETRY = ["index_text.city.json", "index_float.city.json", "index_out_of_range.city.json",
                   "index_negative.city.json", "boundaries_text.city.json"]
HOSTILE_PROJECTS = [
    "deep.qdt", "notjson.qdt", "array.qdt", "binary.qdt", "zero.qdt", "no_format.qdt", "version_true.qdt",
    "version_future.qdt", "version_text.qdt", "layers_dict.qdt", "layer_number.qdt", "source_missing.qdt",
    "source_number.qdt", "crs_garbage.qdt", "opacity_text.qdt", "breaks_text.qdt", "breaks_mixed.qdt",
    "breaks_descending.qdt", "ramp_unknown.qdt", "colour_bad.qdt", "colour_short.qdt", "colour_text.qdt",
    "categories_list.qdt", "category_text.qdt", "style_kind.qdt", "style_text.qdt", "field_number.qdt",
]
BAD_EXPRESSIONS = [
    "状态 = ", "((((", "status = 'a", "1 +", "unknown_field = 3", "status IN ()", "power_w > 'abc' AND", "' OR 1=1 --",
    "status = 2; DROP TABLE streetlights", "__import__('os')", "power_w BETWEEN 1", "fid = 'abc'",
    "(" * 5000 + "1" + ")" * 5000, "status @@ 2", "NOT", "power_w / 0 = = 1",
]


def cases() -> list[tuple[str, list[str]]]:
    """(id, argv with {dir} for the sandbox folder)."""
    out: list[tuple[str, list[str]]] = []
    for name in HOSTILE_DATASETS:
        if name not in BROKEN_GEOMETRY:  # info reads metadata only (like ogrinfo -so), not boundaries
            out.append((f"info-{name}", ["info", "{dir}/" + name, "--json"]))
        out.append((f"query-{name}", ["query", "{dir}/" + name, "--layer", "x", "--json"]))
        out.append((f"clearance-{name}", ["clearance", "{dir}/" + name]))
        out.append((f"edit-{name}", ["edit", "{dir}/" + name, "--layer", "x", "--fid", "1", "--set", "a=1"]))
        out.append((f"db-import-{name}", ["db", "import", "{dir}/" + name, "--dsn", "host=127.0.0.1 port=1 dbname=x"]))
    for name in HOSTILE_PROJECTS:
        out.append((f"info-{name}", ["info", "{dir}/" + name]))
        out.append((f"snapshot-{name}", ["snapshot", "{dir}/" + name, "--out", "{dir}/out.png", "--quiet"]))
        out.append((f"report-{name}", ["report", "{dir}/" + name, "--out", "{dir}/out.pdf", "--quiet"]))
        out.append((f"export-scene-{name}", ["export-scene", "{dir}/" + name, "--out", "{dir}/out.glb", "--quiet"]))
        out.append((f"query-{name}", ["query", "{dir}/" + name, "--layer", "路灯"]))
        out.append((f"edit-{name}", ["edit", "{dir}/" + name, "--layer", "路灯", "--fid", "1", "--set", "状态=故障"]))
    for name in HOSTILE_DATASETS:  # a project whose only layer is the hostile file
        stem = "only_" + name.replace(".", "_")
        out.append((f"snapshot-{stem}", ["snapshot", "{dir}/" + stem + ".qdt", "--out", "{dir}/o.png", "--quiet"]))
        out.append((f"export-scene-{stem}", ["export-scene", "{dir}/" + stem + ".qdt", "--out", "{dir}/o.glb",
                                             "--quiet"]))
    project = "{dir}/qingdao_shinan.qdt"
    gpkg = "{dir}/qingdao_shinan.gpkg"
    for n, expr in enumerate(BAD_EXPRESSIONS):
        out.append((f"query-where-{n}", ["query", gpkg, "--layer", "streetlights", "--where", expr]))
        out.append((f"edit-where-{n}", ["edit", gpkg, "--layer", "streetlights", "--where", expr, "--set",
                                        "status=2"]))
    for n, extra in enumerate([
            ["--predicate", "dwithin", "--other", "pipes"], ["--predicate", "dwithin", "--other", "pipes",
                                                            "--distance", "-5"],
            ["--predicate", "dwithin", "--other", "pipes", "--distance", "nan"], ["--nearest", "0", "--other", "pipes"],
            ["--nearest", "-3", "--other", "pipes"], ["--nearest", "1"], ["--other", "nope", "--nearest", "1"],
            ["--predicate", "within"], ["--out", "{dir}/x.txt"], ["--out", "{dir}/no/such/dir/x.csv"],
            ["--out", gpkg], ["--out", "{dir}/qingdao_shinan.qdt"], ["--nearest", "abc"], ["--distance", "1e"],
            ["--predicate", "near"]]):
        out.append((f"query-args-{n}", ["query", gpkg, "--layer", "streetlights", *extra]))
    out.append(("query-layer-unknown", ["query", gpkg, "--layer", "不存在"]))
    out.append(("query-out-source-symlinked", ["query", gpkg, "--layer", "streetlights", "--out", "{dir}/link.gpkg"]))
    for n, extra in enumerate([
            ["--fid", "99999999999999999999999"], ["--fid", "abc"], ["--fid", "-1"], ["--fid", "1,,x"],
            ["--fid", "1", "--set", "power_w=99999999999999999999999"], ["--fid", "1", "--set", "heads=1e400"],
            ["--fid", "1", "--set", "power_w=nan"], ["--fid", "1", "--set", "状态=不存在的状态"],
            ["--fid", "1", "--set", "no_such_field=1"], ["--fid", "1", "--set", "novalue"],
            ["--fid", "1", "--set", "install_date=2024-13-45"], ["--fid", "1", "--set", "power_w=-5"],
            ["--fid", "1"], ["--set", "status=2"]]):
        out.append((f"edit-args-{n}", ["edit", gpkg, "--layer", "streetlights", *extra]))
    for n, extra in enumerate([
            ["--fid", "1", "--set", "cover_level=99999999999999999999999"], ["--fid", "1", "--set", "cover_level=inf"],
            ["--fid", "99999999999999999999", "--set", "cover_type=x"]]):
        out.append((f"edit-sewers-{n}", ["edit", "{dir}/sewers.gpkg", "--layer", "s_manhole", *extra]))
    for n, extra in enumerate([
            ["--width", "0"], ["--width", "-1"], ["--width", "100000"], ["--height", "abc"], ["--dpi", "0"],
            ["--dpi", "1e9"], ["--out", "{dir}/x.bmp"], ["--out", "{dir}/no/dir/x.png"], ["--width", "1.5"]]):
        argv = ["snapshot", project, "--out", "{dir}/snap.png", "--quiet", *extra]
        out.append((f"snapshot-args-{n}", argv))
    for n, extra in enumerate([
            ["--out", "{dir}/x.txt"], ["--out", "{dir}/no/dir/x.pdf"], ["--template", "{dir}/deep.qdt"],
            ["--template", "{dir}/missing.json"], ["--template", "{dir}/zero.qdt"], ["--page-size", "A0"]]):
        out.append((f"report-args-{n}", ["report", project, "--quiet", *(["--out", "{dir}/r.pdf"]
                                                                          if "--out" not in extra else []), *extra]))
    for n, extra in enumerate([["--out", "{dir}/x.gltf"], ["--out", "{dir}/no/dir/x.glb"]]):
        out.append((f"export-scene-args-{n}", ["export-scene", project, "--quiet", *extra]))
    for n, extra in enumerate([
            ["tables", "--dsn", "host=127.0.0.1 port=1 dbname=x"], ["tables", "--dsn", "password=secret host=x"],
            ["init", "--dsn", "host=127.0.0.1 port=1 dbname=x"], ["fix", "a.b", "--dsn", "host=127.0.0.1 port=1"],
            ["tables", "--dsn", "this is = not a conninfo"], ["bogus"]]):
        out.append((f"db-args-{n}", ["db", *extra]))
    out += [("no-command", []), ("unknown-command", ["frobnicate"]), ("info-no-path", ["info"])]
    return out


CASES = cases()


def test_the_table_covers_every_subcommand_with_enough_cases():
    assert len(CASES) >= 200
    assert {argv[0] for _, argv in CASES if argv} >= set(COMMANDS)


@pytest.fixture(scope="module")
def link(sandbox):
    folder, _ = sandbox
    (folder / "link.gpkg").symlink_to(folder / "qingdao_shinan.gpkg")


@pytest.mark.parametrize("argv", [argv for _, argv in CASES], ids=[name for name, _ in CASES])
def test_hostile_input_is_one_line_exit_2_and_changes_nothing(sandbox, link, capsys, argv):
    folder, _ = sandbox
    before = signatures(folder)
    args = [a.replace("{dir}", str(folder)) for a in argv]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert code == 2, f"exit {code}: {err}"
    assert "Traceback" not in err and "internal error" not in err
    assert len(errors) == 1, err
    assert all(": warning:" in line or "%" in line for line in lines if line not in errors), err
    assert signatures(folder) == before
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".qdt-")]
    assert not leftovers


def test_stdout_closed_early_is_one_line_exit_2():
    # ``true`` exits at once, so the pipe is closed long before QDT writes (``… | head -c 10`` on big output)
    proc = subprocess.run(f"{sys.executable} -m qdt.cli query {SAMPLE_PROJECT} --layer 路灯 --json | true; "
                          "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "broken pipe" in proc.stderr
    assert "Traceback" not in proc.stderr
