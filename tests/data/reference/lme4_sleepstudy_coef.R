library(lme4)
library(jsonlite)
# Run from tests/data: Rscript reference/lme4_sleepstudy_coef.R
# (../shared has no copy of this reference: refresh.sh runs this script instead)
# Per-subject coefficients (fixed effect + conditional mode of the subject's effect) of the
# REML fit: the partial-pooling estimates that ml.pooling's are checked against.
data <- read.csv("sleepstudy.csv")
data$Subject <- factor(data$Subject)
code <- "coef(lmer(Reaction ~ Days + (Days | Subject), data, REML = TRUE))$Subject"
fit <- lmer(Reaction ~ Days + (Days | Subject), data, REML = TRUE)
cf <- coef(fit)$Subject
out <- list(
  name = "lme4_sleepstudy_coef",
  r_code = paste0('data <- read.csv("sleepstudy.csv"); data$Subject <- factor(data$Subject); ',
                  code),
  software = paste(R.version.string, "lme4", as.character(packageVersion("lme4"))),
  coef = lapply(setNames(seq_len(nrow(cf)), rownames(cf)),
                function(i) list(Intercept = cf[i, "(Intercept)"], Days = cf[i, "Days"])),
  fixed = as.list(setNames(fixef(fit), c("Intercept", "Days"))),
  nobs = nobs(fit)
)
write(toJSON(out, auto_unbox = TRUE, digits = 10, pretty = TRUE, na = "null"),
      "reference/lme4_sleepstudy_coef.json")
print(cf)
