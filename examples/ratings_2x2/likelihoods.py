"""Ratings from 0 to 99 with many zeros: which likelihood fits them?

The study: 25 participants each rate stimuli in a 2 x 2 within-subject design (`blockType`,
`CSType`), four times per cell, on a 0..99 slider. 15% of the ratings are exactly 0, most
of them in the 0/0 cell. Every model below has the same predictors: the 2 x 2 interaction,
with a random intercept and random slopes for all three effects by participant, correlated,
as the design asks (every participant sees every cell):

    rating ~ blockType * CSType + (1 + blockType * CSType | subject)

What changes is the likelihood: what kind of number a rating is.

1. gaussian: a rating is a noisy measurement on a continuous scale. The default in most
   analyses; it ignores that ratings stop at 0 and 99, so it puts probability on negative
   ratings and spreads the pile of zeros out as if they were ordinary values near 0.
2. cumulative (ordinal): a rating is an ordered category. Here the slider is binned into 11
   levels (0, 1-9, 10-19, ..., 90-99); each bin gets its own threshold, so the pile of zeros
   is just a large first category. It makes no assumption about distances between bins.
3. ordered beta (Kubinec 2022), on rating / 100: a proportion with exact ends. Zeros (and
   100s) have their own probability, set by cutpoints on the same linear predictor, and the
   values in between follow a beta distribution. Made for bounded sliders with piles at 0.

How they are compared: by PSIS-LOO (ArviZ), the expected log predictive density of each
rating left out in turn: higher is better. The three models predict different things (a
density of the rating, a probability of a bin, a density of rating / 100 with a mass at 0),
so before comparing, each is turned into the log probability of the observed whole number:
the gaussian density at an integer rating approximates P(rating = k) (bins of width 1);
ordered beta's density on rating / 100 is divided by 100 (its mass at 0 is P(rating = 0)
already); the cumulative model's bin probability is shared evenly between the bin's whole
numbers. The table then says which fits best overall, and the last lines which fits the
zeros.

Run: python examples/ratings_2x2/likelihoods.py [--quick]   (a few minutes; --quick: fewer draws)
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

import multilevel as ml

DATA = Path(__file__).resolve().parent / "data" / "ratings_2x2.csv"
PREDICTORS = "blockType * CSType + (1 + blockType * CSType | subject)"
EDGES = [0, 1, *range(10, 100, 10), 100]  # bins [0, 1), [1, 10), [10, 20), ..., [90, 100)


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA)
    df["proportion"] = df["rating"] / 100
    bins = pd.cut(df["rating"], EDGES, right=False)
    labels = ["0", "1-9"] + [f"{lo}-{lo + 9}" for lo in range(10, 100, 10)]
    df["level"] = pd.Categorical.from_codes(bins.cat.codes, labels, ordered=True)
    df["width"] = np.diff(EDGES)[bins.cat.codes]  # whole numbers in each row's bin
    return df


def fit_all(df: pd.DataFrame, **sampling) -> dict[str, ml.Fit]:
    """The three models, each with brms's default priors."""
    return {
        "gaussian": ml.fit(f"rating ~ {PREDICTORS}", df, **sampling),
        "cumulative (11 bins)": ml.fit(
            f"level ~ {PREDICTORS}", df, family="cumulative", **sampling
        ),
        "ordered beta (rating/100)": ml.fit(
            f"proportion ~ {PREDICTORS}", df, family="ordered_beta", **sampling
        ),
    }


def on_the_rating_scale(fits: dict[str, ml.Fit], df: pd.DataFrame) -> dict[str, az.InferenceData]:
    """Each fit's pointwise log-likelihood as log P(rating = observed whole number)."""
    shift = {
        "gaussian": np.zeros(len(df)),
        "cumulative (11 bins)": -np.log(df["width"].to_numpy()),
        "ordered beta (rating/100)": np.where(df["rating"] > 0, -np.log(100.0), 0.0),
    }
    out = {}
    for name, fit in fits.items():
        log_lik = fit.log_likelihood()
        idata = az.InferenceData(
            posterior=fit.idata.posterior,
            log_likelihood=(log_lik + shift[name]).to_dataset(name="rating"),
        )
        out[name] = idata
    return out


def zero_rows_elpd(compared: dict[str, az.InferenceData], zeros: np.ndarray) -> pd.Series:
    """Sum of the pointwise LOO elpd over the ratings that are exactly 0."""
    return pd.Series(
        {
            name: float(az.loo(idata, pointwise=True).loo_i.values[zeros].sum())
            for name, idata in compared.items()
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 chains x 200 + 200 draws")
    args = parser.parse_args(argv)
    sampling = {"seed": 1, "progress": False}
    if args.quick:
        sampling |= {"chains": 2, "warmup": 200, "draws": 200}
    df = load()
    print(f"{len(df)} ratings, {np.mean(df['rating'] == 0):.0%} of them exactly 0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's Pareto-k notes; shown below
        fits = fit_all(df, **sampling)
        for name, fit in fits.items():
            print(f"{name}: {fit.diagnostics}")
        compared = on_the_rating_scale(fits, df)
        table = az.compare(compared)
        zeros = zero_rows_elpd(compared, df["rating"].to_numpy() == 0)
    print("\nPSIS-LOO, log P(rating = observed value), higher is better:")
    print(table[["rank", "elpd_loo", "p_loo", "elpd_diff", "dse", "warning"]].round(1))
    print(f"\nelpd over the {int(np.sum(df['rating'] == 0))} zero ratings:")
    print(zeros.round(1).sort_values(ascending=False).to_string())
    best = zeros.idxmax()
    why = (
        "the gaussian spreads them over a bell around 0 (negative ratings included), "
        "where the other two give a rating of exactly 0 a probability of its own."
    )
    print(f"\nThe zeros are fitted best by {best}; {why}")


if __name__ == "__main__":
    main()
