"""Read a fit saved by `Fit.save`, trusting nothing in the file until it is checked.

Every member, manifest key, type, dtype and size is checked before use, and the formulas
are checked before any design is built: formulaic evaluates formula terms as Python, so a
crafted formula could otherwise run code. A term may only name the stored data's columns,
numbers, strings, operators and formulaic's transforms (see `results._recipe`).
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import replace
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._errors import FileFormatError, MultilevelError
from .design import MissingReport
from .inference import Posterior, SamplerOutput, SamplerSettings, arviz, summarise
from .inference._diagnostics import check
from .results import Fit
from .results._persist import (
    DATA,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MEMBERS,
    POSTERIOR,
    SAMPLER_GROUP,
    data_digest,
    decode_frame,
    open_netcdf,
)
from .results._recipe import MAX_TEXT, check_recipe

MAX_MANIFEST = 256 * 2**20
REQUIRED_GROUPS = ("posterior", "sample_stats", "observed_data", SAMPLER_GROUP)


def load(path: str | PathLike) -> Fit:
    """Read a fit written by `fit.save(path)`: it summarises, predicts and compares without
    refitting. Raises `FileFormatError` for anything but an intact file of this format
    version; nothing in the file is run as code.

    Example:
        >>> fit.save("sleep.mlv")  # doctest: +SKIP
        >>> load("sleep.mlv").predict(new_subjects).summary()  # doctest: +SKIP
    """
    try:
        members = read_members(path)
        manifest = read_manifest(members[MANIFEST])
        check_hdf5(DATA, members[DATA])
        frame = decode_frame(manifest["data"], members[DATA])
        check_recipe(manifest["recipe"], frame.columns)
        groups = read_groups(members[POSTERIOR], manifest["groups"])
        model = rebuild(manifest, frame)
        return Fit(model, posterior(groups, model, manifest), manifest["recipe"])
    except FileFormatError as err:
        raise FileFormatError(f"cannot load '{path}': {err}") from None


# The archive.


def read_members(path: str | PathLike) -> dict[str, bytes]:
    """The archive's members, which must be exactly `MEMBERS`."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = sorted(i.filename for i in infos)
            if names != sorted(MEMBERS):
                extra = sorted(set(names) - set(MEMBERS)) or "a repeated member"
                missing = sorted(set(MEMBERS) - set(names))
                raise FileFormatError(
                    f"a saved fit holds exactly {', '.join(MEMBERS)}; this file "
                    + (f"lacks {', '.join(missing)}" if missing else f"also holds {extra}")
                )
            for info in infos:
                if info.flag_bits & 0x1:
                    raise FileFormatError(f"{info.filename} is encrypted")
                if info.filename == MANIFEST and info.file_size > MAX_MANIFEST:
                    raise FileFormatError(f"{MANIFEST} is {info.file_size} bytes, too large")
            return {i.filename: archive.read(i) for i in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as err:
        raise FileFormatError(
            f"not a saved fit (a zip archive written by fit.save): {err}"
        ) from None


# The manifest: checked key by key, the format version first.


def read_manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw, parse_constant=_no_constant, object_pairs_hook=_unique)
    except (ValueError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{MANIFEST} is not valid JSON: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise FileFormatError(f"{MANIFEST} does not describe a {FORMAT} file")
    check_version(manifest)
    schema = {
        "format": str, "format_version": int, "versions": dict, "created": str,
        "recipe": dict, "engine": str, "settings": dict, "sampler": dict, "model": dict,
        "missing": dict, "groups": list, "data": dict,
    }  # fmt: skip
    fields(manifest, schema, "the manifest")
    fields(
        manifest["recipe"],
        {
            "formula": str, "family": str, "link": (str, type(None)), "priors": list,
            "na_action": str, "dpars": dict, "engine": str,
        },
        "the recipe",
    )  # fmt: skip
    fields(
        manifest["settings"],
        {
            "chains": int, "warmup": int, "draws": int, "seed": int, "target_accept": float,
            "max_treedepth": int, "metric": str, "progress": (bool, type(None)),
        },
        "the sampler settings",
    )  # fmt: skip
    fields(manifest["sampler"], {"seconds": float}, "the sampler output")
    fields(
        manifest["model"],
        {
            "fingerprint": str, "data_digest": str, "dim": int, "n_rows": int,
            "scalar_names": list, "effects": list,
        },
        "the model",
    )  # fmt: skip
    fields(manifest["missing"], {"rows": int, "columns": list}, "the missing-value report")
    fields(manifest["data"], {"rows": int, "columns": list}, "the data")
    for where, values in (
        ("recipe.priors", manifest["recipe"]["priors"]),
        ("model.scalar_names", manifest["model"]["scalar_names"]),
        ("model.effects", manifest["model"]["effects"]),
        ("missing.columns", manifest["missing"]["columns"]),
        ("groups", manifest["groups"]),
        ("recipe.dpars", list(manifest["recipe"]["dpars"].values())),
    ):
        strings(values, where)
    strings(manifest["versions"].values(), "versions")
    check_settings(manifest["settings"])
    return manifest


def check_version(manifest: dict[str, Any]) -> None:
    version = manifest.get("format_version")
    is_int = isinstance(version, int) and not isinstance(version, bool)
    if is_int and version == FORMAT_VERSION:
        return
    from . import __version__

    versions = manifest.get("versions")
    writer = versions.get("multilevel") if isinstance(versions, dict) else None
    writer = writer if isinstance(writer, str) and len(writer) < 40 else "(unknown version)"
    if is_int:
        relation = "newer" if version > FORMAT_VERSION else "older"
        what = f"file format version {version}, {relation} than version {FORMAT_VERSION}"
    else:
        what = f"an unknown file format version {_short(version)}, not version {FORMAT_VERSION}"
    raise FileFormatError(
        f"the file was written by multilevel {writer} in {what}, which this multilevel "
        f"{__version__} reads; load it with the multilevel that wrote it, or refit the model"
    )


def fields(mapping: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    """`mapping` has exactly the keys of `schema`, each of its type (no bool for int)."""
    missing = [k for k in schema if k not in mapping]
    extra = [k for k in mapping if k not in schema]
    if missing or extra:
        raise FileFormatError(
            f"{where} in {MANIFEST} "
            + (f"lacks {', '.join(missing)}" if missing else f"has unknown keys {extra}")
            + f"; it has exactly {', '.join(schema)}"
        )
    for key, kind in schema.items():
        value = mapping[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = any(_is(value, k) for k in kinds)
        if not ok:
            names = " or ".join(_KIND_NAMES[k] for k in kinds)
            raise FileFormatError(
                f"'{key}' of {where} in {MANIFEST} must be {names}, got "
                f"{type(value).__name__} {_short(value)}"
            )


_KIND_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
    dict: "an object",
    list: "a list",
}


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str) and len(value) <= MAX_TEXT
    return isinstance(value, kind)


def strings(values: Iterable[Any], where: str) -> None:
    bad = next((v for v in values if not _is(v, str)), None)
    if bad is not None:
        raise FileFormatError(f"{where} in {MANIFEST} must hold strings, got {_short(bad)}")


def check_settings(s: dict[str, Any]) -> None:
    bounds = {"chains": (1, 64), "warmup": (0, 10**7), "draws": (1, 10**7)}
    bounds |= {"seed": (0, 2**63 - 1), "max_treedepth": (1, 20)}
    for key, (low, high) in bounds.items():
        if not low <= s[key] <= high:
            raise FileFormatError(f"settings.{key} must be from {low} to {high}, got {s[key]}")
    if not 0 < s["target_accept"] < 1 or s["metric"] not in ("diag", "dense"):
        raise FileFormatError(
            f"settings.target_accept must be in (0, 1) and settings.metric 'diag' or 'dense', "
            f"got {s['target_accept']!r} and {s['metric']!r}"
        )


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"repeated key in {keys}")
    return dict(pairs)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# The posterior.


def read_groups(raw: bytes, names: list[str]) -> dict[str, xr.Dataset]:
    """Every group of posterior.nc, checked: the groups the manifest lists, each holding
    numbers (strings only as coordinates)."""
    check_hdf5(POSTERIOR, raw)
    known = set(_supported_groups())
    unknown = [g for g in names if g not in known]
    missing = [g for g in REQUIRED_GROUPS if g not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise FileFormatError(
            f"{POSTERIOR} must hold the groups {', '.join(REQUIRED_GROUPS)} and others of "
            f"ArviZ's; the manifest lists {names}"
        )
    import h5netcdf

    try:
        with h5netcdf.File(io.BytesIO(raw), "r") as file:
            stored = sorted(file.groups)
            nested = [g for g in stored if file.groups[g].groups]
    except Exception as err:  # anything a crafted file makes the reader raise
        raise FileFormatError(f"{POSTERIOR} is not a readable netCDF file: {err}") from None
    if stored != sorted(names) or nested:
        raise FileFormatError(f"{POSTERIOR} holds the groups {stored}; the manifest lists {names}")
    options = {"decode_times": False, "decode_timedelta": False}
    groups = {g: open_netcdf(POSTERIOR, raw, group=g, **options) for g in names}
    for group, dataset in groups.items():
        for name, array in {**dataset.data_vars, **dataset.coords}.items():
            kinds = "biuf" if name in dataset.data_vars else "biufU"
            if array.dtype.kind not in kinds:
                raise FileFormatError(
                    f"'{name}' in group '{group}' of {POSTERIOR} has dtype {array.dtype}; "
                    f"only {'numbers' if kinds == 'biuf' else 'numbers and strings'} are valid"
                )
    return groups


def _supported_groups() -> list[str]:
    from arviz.data.inference_data import SUPPORTED_GROUPS_ALL

    return list(SUPPORTED_GROUPS_ALL)


def check_hdf5(member: str, raw: bytes) -> None:
    """Every dataset in the HDF5 file holds numbers or strings: no references, compound,
    opaque or other types that a reader might turn into objects."""
    import h5py

    bad: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            dtype = obj.dtype
            if dtype.kind not in "biuf" and h5py.check_string_dtype(dtype) is None:
                bad.append(f"{name} ({dtype})")

    try:
        with h5py.File(io.BytesIO(raw), "r") as file:
            file.visititems(visit)
    except Exception as err:  # anything a crafted file makes the reader raise
        raise FileFormatError(f"{member} is not a readable netCDF file: {err}") from None
    if bad:
        raise FileFormatError(
            f"{member} holds data that is neither numbers nor strings: {', '.join(bad)}"
        )


def posterior(groups: dict[str, xr.Dataset], model: Any, manifest: dict[str, Any]) -> Posterior:
    s = manifest["settings"]
    settings = SamplerSettings(**{**s, "target_accept": float(s["target_accept"])})
    chains, draws = settings.chains, settings.draws
    sampler = groups.pop(SAMPLER_GROUP)
    theta = _array(sampler, "positions", (chains, draws, model.dim), SAMPLER_GROUP)
    step_size = _array(sampler, "step_size", (chains,), SAMPLER_GROUP)
    mass_shape = (chains, model.dim) + ((model.dim,) if settings.dense else ())
    inverse_mass = _array(sampler, "inverse_mass_matrix", mass_shape, SAMPLER_GROUP)
    for name in model.scalar_names:
        _array(groups["posterior"], name, (chains, draws), "posterior")
    for e in model.effects:
        shape = (chains, draws, len(e.levels), len(e.coefs))
        _array(groups["posterior"], e.name, shape, "posterior")
    stats = {k: np.asarray(v.values) for k, v in groups["sample_stats"].data_vars.items()}
    for name in ("diverging", "tree_depth"):
        _array(groups["sample_stats"], name, (chains, draws), "sample_stats")
    response = model.design.response_name
    _array(groups["observed_data"], response, (len(model.observed),), "observed_data")
    if "log_likelihood" in groups:
        shape = (chains, draws, len(model.observed))
        _array(groups["log_likelihood"], response, shape, "log_likelihood")
    output = SamplerOutput(theta, stats, step_size, inverse_mass, manifest["sampler"]["seconds"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ on groups it warns about, e.g. "prior"
        idata = arviz().InferenceData(**groups)
    table = summarise(idata.posterior, list(model.scalar_names))
    diagnostics = check(table, stats, chains, settings.max_treedepth)
    return Posterior(idata, diagnostics, output, settings)


def _array(dataset: xr.Dataset, name: str, shape: tuple[int, ...], group: str) -> np.ndarray:
    if name not in dataset.data_vars:
        raise FileFormatError(f"group '{group}' of {POSTERIOR} lacks '{name}'")
    values = np.asarray(dataset[name].values)
    if values.shape != shape:
        raise FileFormatError(
            f"'{name}' in group '{group}' of {POSTERIOR} has shape {values.shape}; the "
            f"manifest's settings and the model give {shape}"
        )
    return values


# The model.


def rebuild(manifest: dict[str, Any], frame: pd.DataFrame) -> Any:
    """The Model again, on the stored rows, checked to be the model that was fitted."""
    from ._api import Model

    recipe, saved = manifest["recipe"], manifest["model"]
    if manifest["engine"] not in ("full", "marginal"):
        raise FileFormatError(f"engine must be 'full' or 'marginal', got {manifest['engine']!r}")
    if len(frame) != saved["n_rows"]:
        raise FileFormatError(f"{DATA} has {len(frame)} rows; the model had {saved['n_rows']}")
    try:
        model = Model(
            recipe["formula"],
            frame,
            family=recipe["family"],
            priors=recipe["priors"],
            na_action=recipe["na_action"],
            link=recipe["link"],
            **recipe["dpars"],
        )
        compiled = model._engine(manifest["engine"])
    except MultilevelError as err:
        raise FileFormatError(f"the file's model cannot be rebuilt: {err}") from None
    writer = manifest["versions"].get("multilevel", "(unknown version)")
    checks = {
        "structure": (compiled.fingerprint, saved["fingerprint"]),
        "data arrays": (data_digest(compiled), saved["data_digest"]),
        "parameters": (list(compiled.scalar_names), saved["scalar_names"]),
        "group effects": ([e.name for e in compiled.effects], saved["effects"]),
        "dimension": (compiled.dim, saved["dim"]),
    }
    differ = [what for what, (ours, theirs) in checks.items() if ours != theirs]
    if differ:
        from . import __version__

        raise FileFormatError(
            f"the model rebuilt from the file differs from the one fitted ({', '.join(differ)}):"
            f" it was fitted with multilevel {writer} and is rebuilt with {__version__}; load "
            "it with the version that wrote it, or refit"
        )
    missing = MissingReport(manifest["missing"]["rows"], tuple(manifest["missing"]["columns"]))
    return replace(compiled, design=replace(compiled.design, missing=missing))
