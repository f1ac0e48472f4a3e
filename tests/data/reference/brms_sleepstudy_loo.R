# brms 2.18 LOO of lme4's sleepstudy, default priors, to check multilevel's elpd_loo against.
# Run from tests/data (refresh.sh does): Rscript reference/brms_sleepstudy_loo.R
suppressPackageStartupMessages({
  library(brms)
  library(jsonlite)
})
data <- read.csv("sleepstudy.csv")
out <- list(
  r_code = paste(
    "brm(Reaction ~ Days + (Days | Subject), sleepstudy, chains = 4, iter = 2000,",
    "seed = 1); loo(fit)  # and the same with (1 | Subject)"
  ),
  versions = list(R = R.version.string, brms = as.character(packageVersion("brms")),
                  loo = as.character(packageVersion("loo")))
)
for (formula in c("Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (1 | Subject)")) {
  fit <- brm(as.formula(formula), data = data, chains = 4, iter = 2000, seed = 1, cores = 2,
             refresh = 0)
  l <- loo(fit)
  est <- l$estimates
  out[[formula]] <- list(
    elpd_loo = est["elpd_loo", "Estimate"], se_elpd_loo = est["elpd_loo", "SE"],
    p_loo = est["p_loo", "Estimate"],
    pareto_k_above_0.7 = sum(l$diagnostics$pareto_k > 0.7)
  )
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "reference/brms_sleepstudy_loo.json")
