"""Save a fit as one file of data only, written atomically.

The file is a zip archive of exactly three members:

- `manifest.json`: the format name and version, the library versions that wrote it, the
  Model's arguments (`fit.recipe`), the engine, the sampler settings, what the rebuilt model
  must match (fingerprint, digest of its data arrays, parameter names), the posterior's
  groups, and how to decode each column of `data.nc`.
- `posterior.nc`: ArviZ's groups as netCDF (h5netcdf), plus `unconstrained_posterior`
  with the sampler's draws of the unconstrained vector (`positions`), its step sizes and
  inverse mass matrices, which `log_likelihood` and `predict` read.
- `data.nc`: the rows the model was fitted to (after missing-value handling), only the
  columns the formulas use, one numeric array per column (`c0`, `c1`, ...); strings and
  categoricals as integer codes whose values, categories and dtypes are in the manifest,
  so that every dtype comes back exactly and rebuilding the design gives the same arrays.

Nothing in it is pickled: `multilevel._load.load` reads it back without running code from
the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import sys
import zipfile
from datetime import UTC, datetime
from importlib import metadata
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd
import xarray as xr

from .._atomic import write_atomic
from .._errors import DataError, FileFormatError, ModelError
from ..formula import formula_names
from ._recipe import check_recipe

if TYPE_CHECKING:
    from ..model import CompiledModel
    from ._fit import Fit

FORMAT = "multilevel-fit"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
POSTERIOR = "posterior.nc"
DATA = "data.nc"
MEMBERS = (MANIFEST, POSTERIOR, DATA)
#: The posterior.nc group with the sampler's own output; not part of `fit.idata`.
SAMPLER_GROUP = "unconstrained_posterior"
RECIPE_KEYS = ("formula", "family", "link", "priors", "na_action", "dpars", "engine")
VERSIONED = ("numpy", "pandas", "jax", "arviz", "xarray", "h5netcdf", "formulaic")
NETCDF_ENGINE = "h5netcdf"
#: The numpy dtypes a column or its categories may have, by name.
NUMPY_DTYPE = re.compile(
    r"^(bool|u?int(8|16|32|64)|float(16|32|64)|(datetime|timedelta)64\[(ns|us|ms|s|D)\])$"
)
#: pandas' nullable dtypes that `data.nc` stores as values plus a mask.
MASKED_DTYPES = (
    *(f"Int{b}" for b in (8, 16, 32, 64)),
    *(f"UInt{b}" for b in (8, 16, 32, 64)),
    "Float32",
    "Float64",
    "boolean",
)


def save(fit: Fit, path: str | PathLike) -> None:
    """Write `fit` to `path` atomically: a crash leaves the old file or the new one.

    Example:
        >>> fit.save("sleep.mlv")  # doctest: +SKIP
        >>> from multilevel._load import load
        >>> load("sleep.mlv").summary()  # doctest: +SKIP
    """
    recipe = fit_recipe(fit)
    frame = model_frame(fit._model.design.frame, recipe)
    check_recipe(recipe, frame.columns)
    columns, data = encode_frame(frame)
    posterior = posterior_bytes(fit)
    manifest = manifest_bytes(fit, recipe, columns)
    members = {MANIFEST: manifest, POSTERIOR: posterior, DATA: data}
    write_atomic(Path(os.fspath(path)), lambda handle: write_archive(handle, members))


# The manifest.


def fit_recipe(fit: Fit) -> dict[str, Any]:
    """The Model's arguments, checked to be what `load` can pass back to `Model`."""
    recipe = {"engine": fit.engine, **fit.recipe}
    missing = [k for k in RECIPE_KEYS if k not in recipe]
    if missing:
        raise ModelError(
            f"this fit has no record of its Model's {', '.join(missing)} (fit.recipe), so it "
            "cannot be saved; fits made by Model.fit or ml.fit have one"
        )
    unknown = sorted(set(recipe) - set(RECIPE_KEYS))
    if unknown:
        raise ModelError(
            f"fit.recipe has keys that file format version {FORMAT_VERSION} cannot store: "
            f"{', '.join(unknown)}; it stores {', '.join(RECIPE_KEYS)}"
        )
    recipe["priors"] = list(recipe["priors"])
    recipe["dpars"] = dict(recipe["dpars"])
    return recipe


def manifest_bytes(fit: Fit, recipe: dict[str, Any], columns: list[dict[str, Any]]) -> bytes:
    model = fit._model
    posterior = fit._posterior
    s = posterior.settings
    missing = model.design.missing
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": versions(),
        "created": datetime.now(UTC).isoformat(),
        "recipe": recipe,
        "engine": model.engine,
        "settings": {
            "chains": s.chains,
            "warmup": s.warmup,
            "draws": s.draws,
            "seed": int(s.seed),
            "target_accept": float(s.target_accept),
            "max_treedepth": s.max_treedepth,
            "metric": s.metric,
            "progress": s.progress,
        },
        "sampler": {"seconds": float(posterior.sampler.seconds)},
        "model": {
            "fingerprint": model.fingerprint,
            "data_digest": data_digest(model),
            "dim": model.dim,
            "n_rows": model.design.n_rows,
            "scalar_names": list(model.scalar_names),
            "effects": [e.name for e in model.effects],
        },
        "missing": {"rows": missing.rows, "columns": list(missing.columns)},
        "groups": [*fit.idata.groups(), SAMPLER_GROUP],
        "data": {"rows": len(fit._model.design.frame), "columns": columns},
    }
    return json.dumps(manifest, indent=1, allow_nan=False).encode()


def versions() -> dict[str, str]:
    from .. import __version__

    found = {"multilevel": __version__, "python": sys.version.split()[0]}
    for name in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def data_digest(model: CompiledModel) -> str:
    """A digest of every array the model samples with: equal when a design is rebuilt from
    the same rows bit for bit, which the fingerprint (structure only) does not check."""
    digest = hashlib.sha256()
    leaves, _ = jax.tree_util.tree_flatten_with_path(model.data)
    for path, leaf in leaves:
        array = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{jax.tree_util.keystr(path)};{array.dtype};{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


# The posterior.


def posterior_bytes(fit: Fit) -> bytes:
    """Every ArviZ group of the fit, and the sampler's output, as one netCDF file."""
    buffer = io.BytesIO()
    mode = "w"
    for group in fit.idata.groups():
        fit.idata[group].to_netcdf(buffer, mode=mode, group=group, engine=NETCDF_ENGINE)
        mode = "a"
    sampler_dataset(fit).to_netcdf(buffer, mode=mode, group=SAMPLER_GROUP, engine=NETCDF_ENGINE)
    return buffer.getvalue()


def sampler_dataset(fit: Fit) -> xr.Dataset:
    out = fit._posterior.sampler
    positions = np.asarray(out.positions, dtype=float)
    inverse_mass = np.asarray(out.inverse_mass_matrix, dtype=float)
    mass_dims = ("chain", "theta", "theta_col")[: inverse_mass.ndim]
    return xr.Dataset(
        {
            "positions": (("chain", "draw", "theta"), positions),
            "step_size": (("chain",), np.asarray(out.step_size, dtype=float)),
            "inverse_mass_matrix": (mass_dims, inverse_mass),
        },
        coords={"chain": fit.idata.posterior.chain.values, "draw": fit.idata.posterior.draw.values},
    )


# The data: one numeric array per column, everything else in the manifest.


def model_frame(frame: pd.DataFrame, recipe: dict[str, Any]) -> pd.DataFrame:
    """The columns of `frame` that the formulas name (the rows are the model's already)."""
    names = formula_names(recipe["formula"])
    for text in recipe["dpars"].values():
        names |= formula_names(text)
    keep = [c for c in frame.columns if str(c) in names]
    duplicated = sorted({str(c) for c in keep if keep.count(c) > 1})
    if duplicated:
        raise DataError(
            f"the data has more than one column named {', '.join(duplicated)}; a fit can "
            "only be saved when the columns its formulas use have unique names"
        )
    return frame[keep].rename(columns=str).reset_index(drop=True)


def encode_frame(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], bytes]:
    """`frame` as netCDF bytes of numeric arrays, and each column's description.

    Example:
        >>> specs, raw = encode_frame(pd.DataFrame({"g": ["a", "b", "a"]}))
        >>> specs[0]["kind"], specs[0]["values"]
        ('string', ['a', 'b'])
    """
    specs, arrays = [], {}
    for i, name in enumerate(frame.columns):
        spec, column_arrays = encode_column(name, frame[name])
        specs.append(spec)
        arrays.update({f"c{i}{suffix}": a for suffix, a in column_arrays.items()})
    dataset = xr.Dataset({k: (("row",), a) for k, a in arrays.items()})
    encoding = {k: {"_FillValue": None} for k in arrays}
    buffer = io.BytesIO()
    dataset.to_netcdf(buffer, engine=NETCDF_ENGINE, encoding=encoding)
    return specs, buffer.getvalue()


def encode_column(name: str, column: pd.Series) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A column's description and arrays ("" the values or codes, "_mask" missing values)."""
    dtype = column.dtype
    spec: dict[str, Any] = {"name": name, "dtype": str(dtype)}
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        spec |= {"kind": "categorical", "ordered": bool(dtype.ordered)}
        spec["categories"] = index_spec(name, categories)
        return spec, {"": np.asarray(column.cat.codes)}
    if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
        codes, values = strings(name, column)
        spec |= {"kind": "string", "values": values}
        if isinstance(dtype, pd.StringDtype):
            spec |= string_dtype_spec(dtype)
        else:
            spec |= {"dtype": "object", "missing": object_missing(column)}
        return spec, {"": codes}
    if dtype.name in MASKED_DTYPES:
        mask = column.isna().to_numpy()
        numpy_dtype = dtype.numpy_dtype
        values = column.array.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0))
        spec["kind"] = "masked"
        if dtype.name == "boolean":
            values = values.astype("u1")
        return spec, {"": values, "_mask": mask.astype("u1")}
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return spec | {"kind": "number"}, {"": column.to_numpy()}
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return spec | {"kind": "bool"}, {"": column.to_numpy().astype("u1")}
    if isinstance(dtype, np.dtype) and dtype.kind in "Mm":
        return spec | {"kind": "time"}, {"": column.to_numpy().view("i8")}
    raise DataError(unsupported(name, str(dtype)))


def unsupported(name: str, what: str) -> str:
    return (
        f"column '{name}' holds {what}, which a saved fit cannot store as data; convert it "
        "to numbers, booleans, strings or a categorical (pandas Categorical) before fitting"
    )


def strings(name: str, column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes (-1: missing) into the column's distinct strings, in order of appearance."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = list(uniques)
    odd = next((v for v in values if not isinstance(v, str)), None)
    if odd is not None:
        raise DataError(unsupported(name, f"{type(odd).__name__} values ({odd!r})"))
    return codes.astype(np.int64), [str(v) for v in values]


#: How an object column's missing values are written: None, NaN or pd.NA.
OBJECT_MISSING = {"None": None, "nan": np.nan, "NA": pd.NA}


def object_missing(column: pd.Series) -> str:
    first = column[column.isna()].iloc[0] if column.isna().any() else None
    return "NA" if first is pd.NA else "None" if first is None else "nan"


def string_dtype_spec(dtype: pd.StringDtype) -> dict[str, Any]:
    return {"storage": dtype.storage, "na_value": "nan" if dtype.na_value is np.nan else "NA"}


def index_spec(name: str, index: pd.Index) -> dict[str, Any]:
    """The categories of a categorical: their dtype and values as JSON (exact: JSON numbers
    are written by `repr`, which round-trips every float)."""
    dtype = index.dtype
    if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
        values = list(index)
        if not all(isinstance(v, str) for v in values):
            raise DataError(unsupported(name, "categories that are not all strings"))
        if isinstance(dtype, pd.StringDtype):
            return {"dtype": "string", "values": values, **string_dtype_spec(dtype)}
        return {"dtype": "object", "values": values}
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return {"dtype": str(dtype), "values": index.to_numpy().tolist()}
    raise DataError(unsupported(name, f"categories of dtype {dtype}"))


def decode_frame(description: dict[str, Any], raw: bytes) -> pd.DataFrame:
    """The inverse of `encode_frame`, checking every column against its description.

    Example:
        >>> frame = pd.DataFrame({"g": pd.Categorical(["b", "a"], ["b", "a"], ordered=True)})
        >>> specs, raw = encode_frame(frame)
        >>> decode_frame({"rows": 2, "columns": specs}, raw).equals(frame)
        True
    """
    rows = description["rows"]
    with open_netcdf(DATA, raw, decode_cf=False) as dataset:
        arrays = {k: np.asarray(v.values) for k, v in dataset.data_vars.items()}
    expected = set()
    columns = {}
    for i, spec in enumerate(description["columns"]):
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or name in columns:
            raise FileFormatError(f"column {i} of {DATA} has no name, or a repeated one")
        expected |= {f"c{i}", f"c{i}_mask"} if spec.get("kind") == "masked" else {f"c{i}"}
        if f"c{i}" not in arrays:
            raise FileFormatError(f"{DATA} lacks the values of column '{name}'")
        columns[name] = decode_column(spec, arrays[f"c{i}"], arrays.get(f"c{i}_mask"), rows)
    extra = sorted(set(arrays) - expected)
    if extra:
        raise FileFormatError(f"{DATA} has arrays the manifest does not describe: {extra}")
    return pd.DataFrame(columns, index=pd.RangeIndex(rows))


def decode_column(
    spec: dict[str, Any], values: np.ndarray, mask: np.ndarray | None, rows: int
) -> pd.Series | pd.Categorical | pd.api.extensions.ExtensionArray | np.ndarray:
    name, kind = spec["name"], spec.get("kind")
    if values.shape != (rows,):
        raise FileFormatError(
            f"column '{name}' of {DATA} has shape {values.shape}; the manifest says {rows} rows"
        )
    if kind == "number":
        return _typed(values, "iuf", name, checked_dtype(spec, "iuf"))
    if kind == "bool":
        return flags(name, values, spec["dtype"] == "bool")
    if kind == "time":
        return _typed(values, "i", name).view(checked_dtype(spec, "Mm"))
    if kind == "masked":
        return masked(spec, values, mask, rows)
    if kind == "string":
        return decode_strings(spec, values)
    if kind == "categorical":
        return decode_categorical(spec, values)
    raise FileFormatError(
        f"column '{name}' of {DATA} has kind {kind!r}; valid kinds are number, bool, time, "
        "masked, string and categorical"
    )


def checked_dtype(spec: dict[str, Any], kinds: str) -> np.dtype:
    text = spec.get("dtype")
    dtype = np.dtype(text) if isinstance(text, str) and NUMPY_DTYPE.match(text) else None
    if dtype is None or dtype.kind not in kinds:
        raise FileFormatError(
            f"column '{spec['name']}' of {DATA} has dtype {spec.get('dtype')!r}, which is not "
            f"valid for its kind {spec.get('kind')!r}"
        )
    return dtype


def _typed(values: np.ndarray, kinds: str, name: str, dtype: np.dtype | None = None) -> np.ndarray:
    """`values`, checked to be stored with one of the dtype kinds (and `dtype`, if given)."""
    if values.dtype.kind not in kinds or (dtype is not None and values.dtype != dtype):
        raise FileFormatError(
            f"column '{name}' of {DATA} is stored as {values.dtype}"
            + (f" but described as {dtype}" if dtype is not None else "")
        )
    return values


def flags(name: str, values: np.ndarray, ok: bool = True) -> np.ndarray:
    values = _typed(values, "u", name)
    if not ok or values.max(initial=0) > 1:
        raise FileFormatError(f"column '{name}' of {DATA} should hold 0/1 flags")
    return values.astype(bool)


def masked(spec: dict[str, Any], values: np.ndarray, mask: np.ndarray | None, rows: int):
    name = spec["name"]
    if spec.get("dtype") not in MASKED_DTYPES or mask is None or mask.shape != (rows,):
        raise FileFormatError(
            f"column '{name}' of {DATA} is not a valid nullable column (dtype "
            f"{spec.get('dtype')!r}; valid: {', '.join(MASKED_DTYPES)})"
        )
    dtype = pd.api.types.pandas_dtype(spec["dtype"])
    if spec["dtype"] == "boolean":
        values = flags(name, values)
    values = _typed(values, "biuf", name, dtype.numpy_dtype)
    return dtype.construct_array_type()(values, flags(f"{name} (mask)", mask))


def string_dtype(spec: dict[str, Any]) -> pd.StringDtype:
    storage, na_value = spec.get("storage"), spec.get("na_value")
    if storage not in ("python", "pyarrow") or na_value not in ("nan", "NA"):
        raise FileFormatError(
            f"column '{spec['name']}' of {DATA} has an unknown string dtype "
            f"(storage {storage!r}, missing value {na_value!r})"
        )
    na = np.nan if na_value == "nan" else pd.NA
    try:
        return pd.StringDtype(storage=storage, na_value=na)
    except ImportError:  # written with pyarrow, read without: the same strings
        return pd.StringDtype(storage="python", na_value=na)


def decode_strings(spec: dict[str, Any], codes: np.ndarray) -> pd.Series:
    name, values = spec["name"], spec.get("values")
    codes = _typed(codes, "i", name)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise FileFormatError(f"column '{name}' of {DATA} needs its values as a list of strings")
    check_codes(name, codes, len(values))
    out = np.empty(len(codes), dtype=object)
    out[codes >= 0] = np.asarray(values, dtype=object)[codes[codes >= 0]]
    if spec.get("dtype") != "object":
        out[codes < 0] = None
        return pd.Series(out, dtype=string_dtype(spec), name=name)
    if spec.get("missing") not in OBJECT_MISSING:
        raise FileFormatError(
            f"column '{name}' of {DATA} has missing-value marker {spec.get('missing')!r}; "
            f"valid: {', '.join(OBJECT_MISSING)}"
        )
    out[codes < 0] = OBJECT_MISSING[spec["missing"]]
    return pd.Series(out, dtype=object, name=name)


def check_codes(name: str, codes: np.ndarray, n: int) -> None:
    if codes.size and not (codes.min() >= -1 and codes.max() < n):
        raise FileFormatError(f"column '{name}' of {DATA} has codes outside its {n} values")


def decode_categorical(spec: dict[str, Any], codes: np.ndarray) -> pd.Categorical:
    name = spec["name"]
    categories = spec.get("categories")
    ordered = spec.get("ordered")
    if not isinstance(categories, dict) or not isinstance(ordered, bool):
        raise FileFormatError(f"column '{name}' of {DATA} needs categories and 'ordered'")
    index = decode_index({**categories, "name": name})
    codes = _typed(codes, "i", name)
    check_codes(name, codes, len(index))
    dtype = pd.CategoricalDtype(index, ordered=ordered)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def decode_index(spec: dict[str, Any]) -> pd.Index:
    name, values = spec["name"], spec.get("values")
    if not isinstance(values, list) or len(set(map(repr, values))) != len(values):
        raise FileFormatError(f"the categories of column '{name}' must be distinct values")
    if spec.get("dtype") in ("object", "string"):
        if not all(isinstance(v, str) for v in values):
            raise FileFormatError(f"the categories of column '{name}' must be strings")
        dtype = object if spec["dtype"] == "object" else string_dtype(spec)
        return pd.Index(values, dtype=dtype)
    if not all(isinstance(v, int | float) for v in values):
        raise FileFormatError(f"the categories of column '{name}' must be numbers")
    return pd.Index(values, dtype=checked_dtype({**spec, "kind": "categorical"}, "biuf"))


def open_netcdf(member: str, raw: bytes, **options: Any) -> xr.Dataset:
    """A netCDF member opened with h5netcdf (which never unpickles), read into memory."""
    try:
        with xr.open_dataset(io.BytesIO(raw), engine=NETCDF_ENGINE, **options) as dataset:
            return dataset.load()
    except Exception as err:  # anything a crafted file makes the readers raise
        raise FileFormatError(f"{member} is not a readable netCDF file: {err}") from None


# Writing.


def write_archive(handle: Any, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
