"""Link functions: name -> inverse link (linear predictor to parameter)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import jax.scipy.special


@dataclass(frozen=True)
class Link:
    name: str
    inverse: Callable[[jax.Array], jax.Array]

    def wrap(self, parameter: str) -> str:
        """How the linear predictor is written in model notation, e.g. `log(sigma[i])`."""
        return parameter if self.name == "identity" else f"{self.name}({parameter})"


LINKS: dict[str, Link] = {
    link.name: link
    for link in (
        Link("identity", lambda eta: eta),
        Link("log", jnp.exp),
        Link("logit", jax.nn.sigmoid),
        Link("probit", jax.scipy.special.ndtr),
        Link("inverse", lambda eta: 1 / eta),
        Link("logm1", lambda eta: 1 + jnp.exp(eta)),  # brms's link for student's nu > 1
    )
}
