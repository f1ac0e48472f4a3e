"""fit.save and load: exact round trips, atomic writes, and files that are refused."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel._errors import DataError, FileFormatError
from multilevel._load import load
from multilevel.inference import configure_cache
from multilevel.results import _persist
from multilevel.results._persist import FORMAT_VERSION, decode_frame, encode_frame
from multilevel.results._recipe import check_recipe

from fakes import fake_fit

# Fits and their loaded copies compile the same programs: the second compile is a cache hit.
configure_cache()


@pytest.fixture(scope="module")
def pc_fit(partially_clustered):
    """The partially clustered design, marginal engine: group effects drawn from keys."""
    model = ml.Model("y ~ tx + (0 + tx | cluster)", partially_clustered, sigma="~ tx")
    return fake_fit(model, draws=40, seed=3, engine="marginal")


@pytest.fixture(scope="module")
def pc_file(pc_fit, tmp_path_factory):
    path = tmp_path_factory.mktemp("persist") / "pc.mlv"
    pc_fit.save(path)
    return path


@pytest.fixture(scope="module")
def pc_loaded(pc_file):
    return load(pc_file)


@pytest.fixture(scope="module")
def cbpp_categorical(cbpp):
    """cbpp with period an ordered categorical in a non-sorted order, herd a categorical."""
    period = pd.Categorical(cbpp["period"], categories=["4", "1", "3", "2"], ordered=True)
    herd = pd.Categorical(cbpp["herd"].astype(str))
    return cbpp.assign(period=period, herd=herd)


@pytest.fixture(scope="module")
def cbpp_fit(cbpp_categorical):
    model = ml.Model(
        "incidence | trials(size) ~ period + (1 | herd)", cbpp_categorical, family="binomial"
    )
    return fake_fit(model, draws=40, seed=4)


def test_gaussian_round_trip_is_exact(pc_fit, pc_loaded):
    assert pc_loaded.engine == "marginal" and pc_loaded.recipe == pc_fit.recipe
    assert pc_loaded.idata.groups() == pc_fit.idata.groups()
    for group in pc_fit.idata.groups():
        assert pc_loaded.idata[group].identical(pc_fit.idata[group]), group
    pd.testing.assert_frame_equal(pc_loaded.summary(True), pc_fit.summary(True), check_exact=True)
    assert pc_loaded.diagnostics == pc_fit.diagnostics
    a, b = pc_fit._posterior, pc_loaded._posterior
    assert b.settings == a.settings and b.sampler.seconds == a.sampler.seconds
    for field in ("positions", "step_size", "inverse_mass_matrix"):
        np.testing.assert_array_equal(getattr(b.sampler, field), getattr(a.sampler, field))
    assert b.sampler.stats.keys() == a.sampler.stats.keys()
    for key, values in a.sampler.stats.items():
        np.testing.assert_array_equal(b.sampler.stats[key], values)
        assert b.sampler.stats[key].dtype == values.dtype
    assert pc_loaded._model.fingerprint == pc_fit._model.fingerprint
    assert pc_loaded.describe() == pc_fit.describe()


def test_stores_only_the_columns_the_model_uses(pc_fit, pc_loaded):
    frame = pc_loaded._model.design.frame
    assert list(frame.columns) == ["tx", "cluster", "y"]
    pd.testing.assert_frame_equal(frame, pc_fit._model.design.frame[["tx", "cluster", "y"]])


def test_log_likelihood_recomputed_after_load_is_identical(pc_fit, pc_file):
    loaded = load(pc_file)  # saved before any log-likelihood: recomputed from the draws
    assert "log_likelihood" not in loaded.idata.groups()
    np.testing.assert_array_equal(loaded.log_likelihood().values, pc_fit.log_likelihood().values)


def test_predict_after_load_matches_the_fit(pc_fit, pc_loaded):
    newdata = pd.DataFrame({"tx": [0, 1, 1], "cluster": ["c001", "g03", "g99"]})
    original = pc_fit.predict(newdata, kind="response", seed=1).draws
    again = pc_loaded.predict(newdata, kind="response", seed=1).draws
    np.testing.assert_array_equal(again.values, original.values)


def test_binomial_round_trip_keeps_categoricals_and_the_log_likelihood(cbpp_fit, tmp_path):
    expected = cbpp_fit.log_likelihood().values
    cbpp_fit.save(tmp_path / "cbpp.mlv")
    loaded = load(tmp_path / "cbpp.mlv")
    assert loaded.idata.log_likelihood.identical(cbpp_fit.idata.log_likelihood)
    np.testing.assert_array_equal(loaded.log_likelihood().values, expected)
    pd.testing.assert_frame_equal(loaded.summary(True), cbpp_fit.summary(True), check_exact=True)
    assert loaded.diagnostics == cbpp_fit.diagnostics
    period = loaded._model.design.frame["period"]
    assert period.dtype == cbpp_fit._model.design.frame["period"].dtype
    assert period.cat.ordered and list(period.cat.categories) == ["4", "1", "3", "2"]
    assert list(loaded.summary().index) == list(cbpp_fit.summary().index)


def test_frame_codec_round_trips_every_dtype_exactly():
    floats = np.array([0.1, -0.0, np.nan, 1e-310, 1.7976931348623157e308])
    frame = pd.DataFrame(
        {
            "f64": floats,
            "f32": np.array([1.5, 2.25, 0.1, 3, 4], dtype=np.float32),
            "i64": np.array([1, -2, 2**62, 0, 5]),
            "i8": np.array([1, 2, 3, 4, -5], dtype=np.int8),
            "u16": np.array([1, 2, 3, 4, 65535], dtype=np.uint16),
            "flag": [True, False, True, True, False],
            "nint": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "nfloat": pd.array([1.5, None, 3, 4, 5], dtype="Float64"),
            "nbool": pd.array([True, None, False, True, True], dtype="boolean"),
            "text": pd.Series(["b", "a", None, "b", "é✓"]),
            "string": pd.Series(["b", "a", None, "b", "nan"], dtype="string"),
            "obj": pd.Series(["x", None, "y", "x", "z"], dtype=object),
            "cat": pd.Categorical(["lo", "hi", "mid", None, "hi"], ["mid", "lo", "hi"]),
            "ord": pd.Categorical(["2", "10", "1", "2", "1"], ["10", "2", "1"], ordered=True),
            "intcat": pd.Categorical([3, 1, 2, 3, 1], [3, 2, 1]),
            "when": pd.to_datetime(["2020-01-01", None, "1999-12-31", "2020-01-01", "2001-02-03"]),
        }
    )
    specs, raw = encode_frame(frame)
    back = decode_frame({"rows": len(frame), "columns": specs}, raw)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back.dtypes.to_dict() == frame.dtypes.to_dict()
    np.testing.assert_array_equal(back["f64"].to_numpy().view("i8"), floats.view("i8"))
    assert back["obj"][1] is None and back["ord"].cat.ordered


def test_a_column_save_cannot_store_is_a_clear_error():
    frame = pd.DataFrame({"mixed": pd.Series([1, "a"], dtype=object)})
    with pytest.raises(DataError, match="column 'mixed' holds int values"):
        encode_frame(frame)


def test_saving_over_a_file_is_atomic(pc_fit, pc_file, tmp_path, monkeypatch):
    path = tmp_path / "fit.mlv"
    path.write_bytes(pc_file.read_bytes())
    before = path.read_bytes()
    real = zipfile.ZipFile.writestr

    def crash_after_first(archive, name, data, *args, **kwargs):
        if name != _persist.MANIFEST:
            raise OSError("disk full")
        return real(archive, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash_after_first)
    with pytest.raises(OSError, match="disk full"):
        pc_fit.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["fit.mlv"]
    monkeypatch.undo()
    pc_fit.save(str(path))  # and a good save replaces it
    assert [p.name for p in tmp_path.iterdir()] == ["fit.mlv"]
    assert zipfile.ZipFile(path).namelist() == list(_persist.MEMBERS)


# Files that load refuses, made from a good file.


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write(path, contents: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def with_manifest(pc_file, path, change):
    contents = members(pc_file)
    manifest = json.loads(contents["manifest.json"])
    change(manifest)
    return write(path, {**contents, "manifest.json": json.dumps(manifest).encode()})


def test_a_file_from_another_format_version_is_refused(pc_file, tmp_path):
    path = with_manifest(pc_file, tmp_path / "new.mlv", lambda m: m.update(format_version=2))
    with pytest.raises(FileFormatError) as err:
        load(path)
    message = str(err.value)
    assert f"written by multilevel {ml.__version__} in file format version 2, newer" in message
    assert f"than version {FORMAT_VERSION}, which this multilevel" in message


class Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def set_key(*keys, value):
    def change(manifest):
        target = manifest
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (set_key("settings", "chains", value="2"), "'chains' of the sampler settings .* must be"),
        (set_key("recipe", "priors", value="b ~ normal(0, 1)"), "'priors' of the recipe"),
        (set_key("recipe", "link", value=3), "'link' of the recipe .* a string or null"),
        (set_key("extra", value=1), "has unknown keys \\['extra'\\]"),
        (set_key("format", value="other"), "does not describe a multilevel-fit file"),
        (set_key("groups", value=["posterior", "sample_stats"]), "must hold the groups"),
        (set_key("data", "columns", 0, "kind", value="pickle"), "has kind 'pickle'"),
        (set_key("data", "columns", 1, "values", value=["c001"]), "codes outside its 1 values"),
        (set_key("model", "fingerprint", value="0" * 64), "differs from the one fitted"),
        (set_key("settings", "draws", value=41), "has shape \\(2, 40, "),
    ],
)
def test_a_manifest_with_wrong_contents_is_refused(pc_file, tmp_path, change, message):
    path = with_manifest(pc_file, tmp_path / "bad.mlv", change)
    with pytest.raises(FileFormatError, match=message):
        load(path)


def test_a_formula_that_runs_code_is_refused_before_anything_is_built(pc_file, tmp_path):
    marker = tmp_path / "pwned"
    injected = f"y ~ tx + I(__import__('os').system('touch {marker}') + tx)"
    path = with_manifest(
        pc_file, tmp_path / "evil.mlv", set_key("recipe", "formula", value=injected)
    )
    with pytest.raises(FileFormatError, match="calls '__import__'"):
        load(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"formula": "y ~ x.__class__"}, "which is not a column"),
        ({"formula": "y ~ I(x.__class__)"}, "uses 'x.__class__'"),
        ({"formula": "y ~ np.load(x)"}, "uses 'np.load'"),
        ({"formula": "y ~ I(x[0])"}, "uses Subscript"),
        ({"formula": "y ~ I((lambda: 1)())"}, "calls something that is not"),
        ({"formula": "y ~ {open('f')}"}, "calls 'open'"),
        ({"formula": "y ~ C(x, Q('eval'))"}, "calls 'Q'"),
        ({"formula": "y ~ I(x + 9**9**9)"}, "constants alone"),
        ({"formula": "y ~ I(secret)"}, "names 'secret'"),
        ({"formula": "I(eval('1')) ~ x"}, "calls 'eval'"),
        ({"formula": "y | trials(exec('1')) ~ x"}, "calls 'exec'"),
        ({"formula": "y ~ x", "dpars": {"sigma": "~ I(getattr(x, 'T'))"}}, "calls 'getattr'"),
        ({"formula": "y ~ x + (I(x.T) | g)"}, "uses 'x.T'"),
        ({"formula": "y ~ x", "priors": ["b ~ eval(1)"]}, "does not parse"),
        ({"formula": "y ~ x", "dpars": {"__class__": "~ x"}}, "not a distributional"),
    ],
)
def test_formula_terms_must_be_plain_data(recipe, message):
    recipe = {"dpars": {}, "priors": [], **recipe}
    with pytest.raises(FileFormatError, match=message):
        check_recipe(recipe, ["y", "x", "g"])


def test_formulaic_transforms_pass_the_check():
    recipe = {
        "formula": "y ~ scale(x) + C(g, contr.sum) + I(x**2) + np.log1p(`odd name`) + (x | g)",
        "dpars": {"sigma": "~ poly(x, 2) + C(g, levels=['a', 'b'])"},
        "priors": ["b ~ normal(0, 1)"],
    }
    check_recipe(recipe, ["y", "x", "g", "odd name"])


def test_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "fit.mlv"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(FileFormatError, match="not a saved fit"):
        load(path)


def test_an_extra_member_is_refused(pc_file, tmp_path, capsys):
    contents = {**members(pc_file), "fit.pkl": pickle.dumps(Evil())}
    with pytest.raises(FileFormatError, match=r"also holds \['fit.pkl'\]"):
        load(write(tmp_path / "extra.mlv", contents))
    assert "unpickled" not in capsys.readouterr().out


def test_a_missing_member_is_refused(pc_file, tmp_path):
    contents = members(pc_file)
    del contents["data.nc"]
    with pytest.raises(FileFormatError, match=r"lacks data\.nc"):
        load(write(tmp_path / "short.mlv", contents))


def test_a_pickle_in_place_of_the_posterior_is_refused(pc_file, tmp_path, capsys):
    contents = {**members(pc_file), "posterior.nc": pickle.dumps(Evil())}
    with pytest.raises(FileFormatError, match=r"posterior\.nc is not a readable netCDF file"):
        load(write(tmp_path / "pickled.mlv", contents))
    assert "unpickled" not in capsys.readouterr().out


def test_a_malformed_manifest_is_refused(pc_file, tmp_path):
    contents = {**members(pc_file), "manifest.json": b'{"format": "multilevel-fit", '}
    with pytest.raises(FileFormatError, match=r"manifest\.json is not valid JSON"):
        load(write(tmp_path / "broken.mlv", contents))


def test_object_dtype_data_in_the_netcdf_is_refused(pc_file, tmp_path):
    contents = members(pc_file)
    buffer = io.BytesIO(contents["posterior.nc"])
    with h5py.File(buffer, "r+") as file:
        group = file["posterior"]
        group.create_dataset("refs", data=np.array([group.ref], dtype=h5py.ref_dtype))
    contents["posterior.nc"] = buffer.getvalue()
    with pytest.raises(FileFormatError, match="neither numbers nor strings: posterior/refs"):
        load(write(tmp_path / "objects.mlv", contents))


def test_strings_where_numbers_belong_are_refused(pc_file, pc_fit, tmp_path):
    buffer = io.BytesIO()
    for i, group in enumerate(["posterior", "sample_stats", "observed_data"]):
        dataset = pc_fit.idata[group]
        mode = "a" if i else "w"
        if group == "posterior":
            dataset = dataset.assign(b_tx=dataset.b_tx.astype(str))
        dataset.to_netcdf(buffer, mode=mode, group=group, engine="h5netcdf")
    sampler = _persist.sampler_dataset(pc_fit)
    sampler.to_netcdf(buffer, mode="a", group=_persist.SAMPLER_GROUP, engine="h5netcdf")
    contents = {**members(pc_file), "posterior.nc": buffer.getvalue()}
    with pytest.raises(FileFormatError, match=r"'b_tx' in group 'posterior' .* only numbers"):
        load(write(tmp_path / "strings.mlv", contents))
