"""Shared fixtures: the data sets and R reference fits copied into tests/data."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"

# Compiled programs go to a throwaway cache, never the user's: set before the first fit.
os.environ.setdefault("MULTILEVEL_CACHE_DIR", tempfile.mkdtemp(prefix="multilevel-test-cache-"))


def load_data(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv")


def load_reference(name: str) -> dict:
    return json.loads((DATA / "reference" / f"{name}.json").read_text())


@pytest.fixture(scope="session")
def sleepstudy() -> pd.DataFrame:
    return load_data("sleepstudy")


@pytest.fixture(scope="session")
def partially_clustered() -> pd.DataFrame:
    return load_data("partially_clustered")


@pytest.fixture(scope="session")
def ratings() -> pd.DataFrame:
    return load_data("ratings_2x2")


@pytest.fixture(scope="session")
def grouseticks() -> pd.DataFrame:
    """Ticks on chicks in broods at locations (lme4); brood labels are unique across
    locations, so broods nest in locations. `log_ticks = log(TICKS + 1)` for Gaussian fits."""
    df = load_data("grouseticks")
    return df.assign(log_ticks=np.log1p(df["TICKS"]), YEAR=df["YEAR"].astype(str))


@pytest.fixture(scope="session")
def grouseticks_raw() -> pd.DataFrame:
    """grouseticks as lme4 has it (YEAR numeric 95..97, as glmer's reference fit used it)."""
    return load_data("grouseticks")


@pytest.fixture(scope="session")
def cbpp() -> pd.DataFrame:
    """cbpp (lme4): period as a factor, as in R."""
    return load_data("cbpp").astype({"period": str})


@pytest.fixture(scope="session")
def epilepsy() -> pd.DataFrame:
    return load_data("epilepsy")


@pytest.fixture(scope="session")
def wine() -> pd.DataFrame:
    """wine (ordinal): bitterness ratings 1..5 by 9 judges."""
    return load_data("wine")
