"""The partially clustered trial: treated patients in 10 therapy groups, controls unclustered.

    y_ij = b0 + b1*Tx + u_j*Tx + e_ij,   u_j ~ N(0, sd^2),   e_ij ~ N(0, sigma_arm^2)

with the priors of a SAS PROC MCMC program (normal with a large variance on the
coefficients, inverse-gamma(0.01, 0.01) on the therapy-group variance) and a residual sd
per arm (`sigma ~ tx`, log link as in brms: b_sigma_tx is a difference of log sds).

Run: python examples/partially_clustered.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

import multilevel as ml

data = pd.read_csv(Path(__file__).parent / "data" / "partially_clustered.csv")

model = ml.Model(
    "y ~ tx + (0 + tx | cluster)",
    data,
    sigma="~ tx",
    priors=[
        "b ~ normal(0, 1000)",  # PROC MCMC: normal(0, var=1e6)
        "b_Intercept ~ normal(0, 1000)",  # the same prior on the original-scale intercept
        "sd_cluster__tx^2 ~ inv_gamma(0.01, 0.01)",  # PROC MCMC: igamma(0.01, scale=0.01)
        "b_sigma ~ normal(0, 5)",
    ],
)
print(model.describe())

fit = model.fit(seed=1)
print("\nSummary:")
print(fit.summary().round(3).to_string())

post = fit.idata.posterior
sigma_control = np.exp(post["b_sigma_Intercept"])
sigma_treated = np.exp(post["b_sigma_Intercept"] + post["b_sigma_tx"])
print(
    f"\nresidual sd: controls {float(sigma_control.mean()):.2f}, "
    f"treated {float(sigma_treated.mean()):.2f}"
)
print(f"\nDiagnostics:\n{fit.diagnostics}")
