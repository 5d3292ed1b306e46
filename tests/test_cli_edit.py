"""``qdt edit``: validated, atomic attribute edits from the command line."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pyogrio
import pytest

from qdt.cli.main import main
from qdt.io.gpkg_write import read_change_log
from tests.conftest import SAMPLE_DIR, SAMPLE_GPKG


@pytest.fixture
def gpkg(tmp_path):
    path = tmp_path / "city.gpkg"
    shutil.copy(SAMPLE_GPKG, path)
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lights(path):
    return pyogrio.read_dataframe(path, layer="streetlights", fid_as_index=True)


def test_fid_edit_with_chinese_label_commits_and_logs(gpkg, capsys):
    before = lights(gpkg)
    new_status = 3 if before.loc[4, "status"] != 3 else 2
    label = {2: "故障", 3: "维修中"}[new_status]
    rc = main(["edit", str(gpkg), "--layer", "streetlights", "--fid", "4,5", "--fid", "6",
               "--set", f"status={label}", "--set", "安装日期=2024-03-01", "--user", "张工"])
    out = capsys.readouterr()
    assert rc == 0 and out.err == ""
    assert out.out.startswith("streetlights: 3 feature(s) changed (")
    after = lights(gpkg)
    assert (after.loc[[4, 5, 6], "status"] == new_status).all()
    assert (after.loc[[4, 5, 6], "install_date"].dt.strftime("%Y-%m-%d") == "2024-03-01").all()
    log = read_change_log(gpkg, layer="streetlights")
    assert {r["user"] for r in log} == {"张工"} and {r["feature_fid"] for r in log} == {4, 5, 6}
    assert len({r["commit_id"] for r in log}) == 1


def test_where_edit_changes_the_matching_features(gpkg, capsys):
    before = lights(gpkg)
    match = before.index[(before["status"] == 1) & (before["power_w"] >= 150)]
    assert len(match) > 10
    rc = main(["edit", str(gpkg), "--layer", "streetlights", "--where", "状态 = '正常' AND power_w >= 150",
               "--set", "status=维修中", "--set", "maintainer=青岛市测试养护公司"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.startswith(f"streetlights: {len(match)} feature(s) changed ({2 * len(match)} value(s)), commit ")
    after = lights(gpkg)
    assert (after.loc[match, "status"] == 3).all()
    rest = ~after.index.isin(match)
    assert np.array_equal(after.loc[rest, "status"].to_numpy(), before.loc[rest, "status"].to_numpy())


def test_project_layer_by_its_name(tmp_path, capsys):
    folder = tmp_path / "sample"
    folder.mkdir()
    for name in ("qingdao_shinan.qdt", "qingdao_shinan.gpkg"):
        shutil.copy(SAMPLE_DIR / name, folder / name)
    rc = main(["edit", str(folder / "qingdao_shinan.qdt"), "--layer", "路灯", "--fid", "9", "--set", "owner=某单位"])
    assert rc == 0 and capsys.readouterr().out.startswith("路灯: 1 feature(s) changed (1 value(s))")
    assert lights(folder / "qingdao_shinan.gpkg").loc[9, "owner"] == "某单位"


def test_values_already_set_change_nothing(gpkg, capsys):
    status = int(lights(gpkg).loc[2, "status"])
    rc = main(["edit", str(gpkg), "--layer", "streetlights", "--fid", "2", "--set", f"status={status}"])
    assert rc == 0 and "nothing changed" in capsys.readouterr().out
    assert read_change_log(gpkg) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--fid", "3", "--set", "status=坏了"],
     "qdt edit: error: streetlights: field 'status' (状态): '坏了' is not in the code list 设施状态 "
     "(1 正常, 2 故障, 3 维修中, 4 停用)"),
    (["--fid", "3", "--set", "power_w=-1"],
     "qdt edit: error: streetlights: field 'power_w' (额定功率): -1 is below the minimum 5 W"),
    (["--fid", "3", "--set", "install_date=2024-02-30"],
     "qdt edit: error: streetlights: field 'install_date' (安装日期): '2024-02-30' is not a date (use YYYY-MM-DD)"),
    (["--fid", "3", "--set", "code="], "qdt edit: error: streetlights: field 'code' (对象编码): a value is required "
                                       "(got '')"),
    (["--fid", "99999", "--set", "status=1"], "qdt edit: error: layer 'streetlights' has no feature with fid 99999"),
    (["--fid", "x", "--set", "status=1"], "qdt edit: error: --fid 'x' is not a feature id (a whole number)"),
    (["--fid", "3", "--set", "status"], "qdt edit: error: --set 'status' must look like FIELD=VALUE"),
    (["--fid", "3", "--set", "nope=1"], "qdt edit: error: layer 'streetlights' has no field 'nope' (fields: code, "
     "pole_code, lamp_type, power_w, pole_height, arm_length, heads, colour_temp, control_mode, status, install_date, "
     "owner, maintainer, circuit, cabinet_code, pole_material, road_name)"),
    (["--where", "status = ", "--set", "status=1"], "qdt edit: error: layer 'streetlights', --where: "),
])
def test_invalid_input_one_line_exit_2_file_untouched(gpkg, capsys, args, message):
    before = digest(gpkg)
    rc = main(["edit", str(gpkg), "--layer", "streetlights", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith(message)
    assert digest(gpkg) == before


def test_unknown_layer_and_missing_file(gpkg, tmp_path, capsys):
    assert main(["edit", str(gpkg), "--layer", "lamps", "--fid", "1", "--set", "status=1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lamps" in err
    assert main(["edit", str(tmp_path / "none.gpkg"), "--layer", "x", "--fid", "1", "--set", "a=1"]) == 2
    assert "does not exist" in capsys.readouterr().err
