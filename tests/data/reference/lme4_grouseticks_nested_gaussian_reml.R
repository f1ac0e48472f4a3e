library(lme4)
library(jsonlite)
# Run from tests/data: Rscript reference/lme4_grouseticks_nested_gaussian_reml.R
# (../shared has no copy of this reference: refresh.sh runs this script instead)
data <- read.csv("grouseticks.csv")
data$log_ticks <- log1p(data$TICKS)
data$YEAR <- factor(data$YEAR)
data$LOCATION <- factor(data$LOCATION)
data$BROOD <- factor(data$BROOD)
code <- "lmer(log_ticks ~ YEAR + (1 | LOCATION/BROOD), data, REML = TRUE)"
fit <- eval(parse(text = code))
fe <- summary(fit)$coefficients
fixed <- lapply(seq_len(nrow(fe)), function(i) list(estimate = fe[i, 1], se = fe[i, 2]))
names(fixed) <- rownames(fe)
vc <- as.data.frame(VarCorr(fit))
out <- list(
  name = "lme4_grouseticks_nested_gaussian_reml",
  r_code = paste0('data <- read.csv("grouseticks.csv"); data$log_ticks <- log1p(data$TICKS); ',
                  'data$YEAR <- factor(data$YEAR); ', code),
  software = paste(R.version.string, "lme4", as.character(packageVersion("lme4"))),
  fixed = fixed,
  varcorr = lapply(seq_len(nrow(vc)), function(i) list(grp = vc$grp[i], var1 = vc$var1[i],
                   var2 = vc$var2[i], sdcor = vc$sdcor[i])),
  logLik = as.numeric(logLik(fit)),
  nobs = nobs(fit)
)
write(toJSON(out, auto_unbox = TRUE, digits = 10, pretty = TRUE, na = "null"),
      "reference/lme4_grouseticks_nested_gaussian_reml.json")
print(fit)
