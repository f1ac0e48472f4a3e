"""translate_sas: SAS PROC MIXED / GLIMMIX blocks -> formulas, family, link, notes, errors.

The expected translations follow the SAS/STAT documentation ("Specification of Effects" in
the GLM chapter; the MIXED and GLIMMIX chapters for RANDOM, REPEATED, TYPE=, DIST=, LINK=).
"""

from __future__ import annotations

import pandas as pd
import pytest

import multilevel as ml
from multilevel import DataError, TranslationError
from multilevel.translate._sas import translate_sas

TRIAL = """
proc mixed data=trial method=reml;
  class cluster;
  model y = tx / solution ddfm=kr;
  random tx / subject=cluster;
  repeated / group=tx;
run;
"""

# (SAS block, data fixture or None, expected formulas, family, link)
CASES = [
    # The partially clustered trial: tx is not in CLASS, so it is a 0/1 covariate; RANDOM
    # has no intercept unless INTERCEPT is listed; REPEATED GROUP= gives a residual per arm.
    (TRIAL, "partially_clustered", ("y ~ tx + (0 + tx | cluster)", "sigma ~ tx"), "gaussian", None),
    (TRIAL, None, ("y ~ tx + (0 + tx | cluster)", "sigma ~ tx"), "gaussian", None),
    # A text arm variable: one residual sd per level, a bare factor.
    (
        "class cluster; model y = tx; random tx / subject=cluster; repeated / group=GROUP;",
        "partially_clustered",
        ("y ~ tx + (0 + tx | cluster)", "sigma ~ group"),
        "gaussian",
        None,
    ),
    # NOINT: no intercept.
    ("model y = x z / noint;", None, ("y ~ 0 + x + z",), "gaussian", None),
    # SAS: a*b is the interaction only (R's a:b).
    (
        "class a b; model y = a b a*b / solution;",
        None,
        ("y ~ C(a) + C(b) + C(a):C(b)",),
        "gaussian",
        None,
    ),
    # SAS: a|b expands to a b a*b.
    ("class a b; model y = a|b;", None, ("y ~ C(a) + C(b) + C(a):C(b)",), "gaussian", None),
    # SAS: a|b|c@2 keeps the effects of at most two variables, in the order a b a*b c a*c b*c.
    (
        "class a b c; model y = a|b|c@2;",
        None,
        ("y ~ C(a) + C(b) + C(a):C(b) + C(c) + C(a):C(c) + C(b):C(c)",),
        "gaussian",
        None,
    ),
    # SAS: continuous variables crossed with themselves are polynomial effects.
    ("model y = x x*x x*x*z x*z;", None, ("y ~ x + I(x**2) + I(x**2):z + x:z",), "gaussian", None),
    # SAS: a(b) is a within b: b's levels crossed with a's, nesting variable first.
    ("class a b; model y = b a(b) / noint;", None, ("y ~ 0 + C(b) + C(b):C(a)",), "gaussian", None),
    (
        "class g; model y = x; random intercept x / subject=g type=un;",
        None,
        ("y ~ x + (1 + x | g)",),
        "gaussian",
        None,
    ),
    # TYPE=VC (the default) is a variance per effect, no covariances.
    (
        "class g; model y = x; random intercept x / subject=g type=vc;",
        None,
        ("y ~ x + (1 + x || g)",),
        "gaussian",
        None,
    ),
    (
        "class g; model y = x; random int x / sub=g;",
        None,
        ("y ~ x + (1 + x || g)",),
        "gaussian",
        None,
    ),
    # UN(1) is the unstructured matrix with one band: the diagonal.
    (
        "class g; model y = x; random int x / subject=g type=un(1) g;",
        None,
        ("y ~ x + (1 + x || g)",),
        "gaussian",
        None,
    ),
    # CHOL and FA0(q) with q the number of effects are unstructured, parameterised otherwise.
    (
        "class g; model y = x; random int x / subject=g type=chol;",
        None,
        ("y ~ x + (1 + x | g)",),
        "gaussian",
        None,
    ),
    (
        "class g; model y = x; random int x / subject=g type=fa0(2);",
        None,
        ("y ~ x + (1 + x | g)",),
        "gaussian",
        None,
    ),
    # One effect: CSH is one variance, as VC.
    (
        "class g; model y = x; random int / subject=g type=csh;",
        None,
        ("y ~ x + (1 | g)",),
        "gaussian",
        None,
    ),
    # SUBJECT=class(school): classes within schools.
    (
        "class school class; model y = x; random intercept / subject=class(school);",
        None,
        ("y ~ x + (1 | school:class)",),
        "gaussian",
        None,
    ),
    (
        "class school class; model y = x; random int / subject=school*class;",
        None,
        ("y ~ x + (1 | school:class)",),
        "gaussian",
        None,
    ),
    # Without SUBJECT= each class effect is a variance component.
    (
        "class school class; model y = x; random school class(school);",
        None,
        ("y ~ x + (1 | school) + (1 | school:class)",),
        "gaussian",
        None,
    ),
    (
        "class g a; model y = x; random g g*a;",
        None,
        ("y ~ x + (1 | g) + (1 | g:a)",),
        "gaussian",
        None,
    ),
    # a(g) is a within g; x*g is a slope of x per level of g.
    (
        "class g a; model y = x; random a(g) x*g;",
        None,
        ("y ~ x + (1 | g:a) + (0 + x | g)",),
        "gaussian",
        None,
    ),
    # A class effect with a subject under VC: one variance for all its levels within g.
    (
        "class g a; model y = x; random intercept a / subject=g;",
        None,
        ("y ~ x + (1 | g) + (1 | g:a)",),
        "gaussian",
        None,
    ),
    (
        "class g a; model y = x; random a / subject=g type=un;",
        None,
        ("y ~ x + (0 + C(a) | g)",),
        "gaussian",
        None,
    ),
    # CS on a class effect's levels is a subject intercept plus a variance per level.
    (
        "class g a; model y = x; random a / subject=g type=cs;",
        None,
        ("y ~ x + (1 | g) + (1 | g:a)",),
        "gaussian",
        None,
    ),
    (
        "proc glimmix; class tx g; model y = tx; random int / subject=g;"
        " random _residual_ / group=tx;",
        "partially_clustered_g",
        ("y ~ C(tx, contr.treatment(base=1)) + (1 | g)", "sigma ~ tx"),
        "gaussian",
        None,
    ),
    # GLIMMIX: binary and logit is the default link, so no link is set.
    (
        "proc glimmix; class g; model y = x / dist=binary link=logit; random int / subject=g;",
        None,
        ("y ~ x + (1 | g)",),
        "bernoulli",
        None,
    ),
    # DIST=BINOMIAL with a single response is binary.
    (
        "proc glimmix; model y = x / dist=binomial link=probit;",
        None,
        ("y ~ x",),
        "bernoulli",
        "probit",
    ),
    (
        "proc glimmix; class patient trt; model count = zAge zBase trt / dist=poisson;"
        " random int / subject=patient;",
        "epilepsy",
        ("count ~ zAge + zBase + C(Trt, contr.treatment(base=1)) + (1 | patient)",),
        "poisson",
        None,
    ),
    # events/trials syntax: binomial, reference level the last period (SAS's GLM coding).
    (
        "proc glimmix; class herd period; model incidence/size = period / dist=binomial;"
        " random intercept / subject=herd;",
        "cbpp",
        ("incidence | trials(size) ~ C(period, contr.treatment(base='4')) + (1 | herd)",),
        "binomial",
        None,
    ),
    # Text columns: the last level in sorted order ('warm', 'yes') is SAS's reference.
    (
        "proc glimmix; class temp contact judge; model rating = temp contact /"
        " dist=multinomial link=cumprobit; random int / subject=judge;",
        "wine",
        (
            "rating ~ C(temp, contr.treatment(base='warm')) + "
            "C(contact, contr.treatment(base='yes')) + (1 | judge)",
        ),
        "cumulative",
        "probit",
    ),
    ("proc glimmix; model y = x / dist=negbin;", None, ("y ~ x",), "negbinomial", None),
    # GLIMMIX's gamma default link is log; our gamma's (brms's) is inverse, so it is set.
    ("proc glimmix; model y = x / dist=gamma;", None, ("y ~ x",), "gamma", "log"),
    ("proc glimmix; model y = x / d=gam link=identity;", None, ("y ~ x",), "gamma", "identity"),
    ("proc glimmix; model y = x / dist=poisson link=id;", None, ("y ~ x",), "poisson", "identity"),
    ("proc glimmix; model y = x / dist=beta;", None, ("y ~ x",), "beta", None),
    ("proc glimmix; model y = x / dist=logn;", None, ("y ~ x",), "lognormal", None),
    # SAS is case-insensitive: names take the data's spelling.
    (
        "PROC MIXED; CLASS SUBJECT; MODEL REACTION = DAYS / S; RANDOM INT DAYS / SUBJECT=SUBJECT"
        " TYPE=UN; RUN;",
        "sleepstudy",
        ("Reaction ~ Days + (1 + Days | Subject)",),
        "gaussian",
        None,
    ),
    # CLASS a(ref=first): the first level is the reference, as formulaic's default.
    ("class a(ref=first); model y = a;", "letters", ("y ~ a",), "gaussian", None),
    (
        "class a(ref='q'); model y = a;",
        "letters",
        ("y ~ C(a, contr.treatment(base='q'))",),
        "gaussian",
        None,
    ),
    # Comments, `* ...;` comment statements and statements that are not the model.
    (
        "/* a; comment */ * don't; proc mixed; class g; model y = x; lsmeans g;"
        " estimate 'x' x 1; ods output solutionf=sf; title 'trial; 2'; run; quit;",
        None,
        ("y ~ x",),
        "gaussian",
        None,
    ),
]


@pytest.fixture
def frames(request):
    """Data by name: the shared data sets, and two small made-up ones."""

    def get(name: str | None) -> pd.DataFrame | None:
        if name is None:
            return None
        if name == "partially_clustered_g":
            return request.getfixturevalue("partially_clustered").rename(columns={"cluster": "g"})
        if name == "letters":
            return pd.DataFrame({"y": [1.0, 2.0, 3.0], "a": ["p", "q", "r"]})
        return request.getfixturevalue(name)

    return get


@pytest.mark.parametrize(("sas", "data", "formulas", "family", "link"), CASES)
def test_translation(frames, sas, data, formulas, family, link):
    t = translate_sas(sas, frames(data))
    assert t.formulas == formulas
    assert (t.family, t.link) == (family, link)
    assert t.source == sas.strip()


def test_there_are_enough_cases():
    assert len(CASES) >= 20


def note_with(t, text: str) -> str:
    matching = [n for n in t.notes if text in n]
    assert matching, f"no note contains {text!r}: {t.notes}"
    return matching[0]


def test_trial_notes(partially_clustered):
    t = translate_sas(TRIAL)
    assert "'ddfm=kr' ignored" in note_with(t, "ddfm=kr")
    note_with(t, "'solution' ignored")
    note_with(t, "'method=reml' ignored")
    # Without the data, '~ tx' assumes tx has two values, and says so.
    note_with(t, "'~ C(tx)'")
    with_data = translate_sas(TRIAL, partially_clustered)
    assert not [n for n in with_data.notes if "C(tx)" in n]


def test_class_reference_note_without_data():
    t = translate_sas("class a b; model y = a b x;")
    note = note_with(t, "first level")
    assert "'a'" in note and "'b'" in note and "last" in note
    assert not [n for n in translate_sas("class a b; model y = x;").notes if "first" in n]


def test_numeric_class_reference_with_data(sleepstudy):
    # SAS's last level of a numeric class variable is its largest value.
    t = translate_sas("class days; model reaction = days;", sleepstudy)
    assert t.formula == "Reaction ~ C(Days, contr.treatment(base=9))"
    assert not [n for n in t.notes if "first level" in n]


def test_categorical_reference_is_the_last_category():
    df = pd.DataFrame({"y": [1.0, 2.0], "dose": pd.Categorical(["hi", "lo"], ["lo", "hi"])})
    assert translate_sas("class dose; model y = dose;", df).formula == (
        "y ~ C(dose, contr.treatment(base='hi'))"
    )


def test_reference_level_without_data_is_text():
    t = translate_sas("class a(ref='3'); model y = a;")
    assert t.formula == "y ~ C(a, contr.treatment(base='3'))"
    note_with(t, "pass data=")


def test_reference_level_not_in_the_data():
    df = pd.DataFrame({"y": [1.0, 2.0], "a": ["p", "q"]})
    with pytest.raises(DataError, match="ref='z' is not a level of 'a'; its levels are p, q"):
        translate_sas("class a(ref='z'); model y = a;", df)


def test_text_variable_outside_class(wine):
    # SAS reads a variable outside CLASS as continuous, and refuses text.
    with pytest.raises(DataError, match=r"'temp'.*add it to the class statement"):
        translate_sas("model rating = temp;", wine)


def test_display_options_and_ignored_statements_are_notes():
    t = translate_sas(
        "class g; model y = x / cl alpha=0.1 chisq htype=3 or; random int / subject=g s gcorr;"
        " lsmeans g / diff; estimate 'slope' x 1; contrast 'c' x 1; parms (1) (2);"
    )
    for text in ("'cl'", "'alpha=0.1'", "'chisq'", "'htype=3'", "'or'", "'s', 'gcorr'"):
        note_with(t, text)
    for statement in ("lsmeans", "estimate", "contrast", "parms"):
        note_with(t, f"'{statement}' statement")


def test_binary_and_cumulative_sign_notes():
    t = translate_sas("proc glimmix; model y = x / dist=binary;")
    note_with(t, "opposite sign")
    event = translate_sas("proc glimmix; model y(event='1') = x / dist=binary;")
    assert not [n for n in event.notes if "opposite sign" in n]
    note_with(translate_sas("proc glimmix; model y = x / dist=mult;"), "opposite sign")


def test_repeated_subject_with_vc_is_a_note():
    t = translate_sas("class g; model y = x; repeated time / subject=g type=vc;")
    assert t.formulas == ("y ~ x",)
    note_with(t, "independent")


def test_unknown_variable_with_data(sleepstudy):
    with pytest.raises(DataError, match=r"'dayz'.*did you mean 'Days'"):
        translate_sas("model reaction = dayz;", sleepstudy)
    with pytest.raises(DataError, match="'clinic'"):
        translate_sas("class clinic; model reaction = days;", sleepstudy)


ERRORS = [
    # (SAS block, text the message quotes and the caret points at)
    ("class g; model y = x; random x / subject=g type=ar(1);", "type=ar(1)"),
    ("class g; model y = x; random int x / subject=g type=toep;", "type=toep"),
    ("proc mixed data=d empirical; class g; model y = x;", "empirical"),
    ("class g tx; model y = x; random int / subject=g group=tx;", "group=tx"),
    ("class g; model y = x; weight w;", "weight"),
    ("by site; class g; model y = x;", "by"),
    ("where x > 1; model y = x;", "where"),
    ("proc glimmix; model y = x / dist=geometric;", "dist=geometric"),
    ("proc glimmix; model y = x / link=glogit;", "link=glogit"),
    # Equal variances or covariances for two effects have no formula.
    ("class g; model y = x; random int x / subject=g type=cs;", "type=cs"),
    ("class g; model y = x; repeated / subject=g type=ar(1);", "type=ar(1)"),
    ("class g; model y = x; repeated time / subject=g type=un;", "type=un"),
    # Intercept and every level of a, correlated: over-parameterised.
    ("class g a; model y = x; random int a / subject=g type=un;", "a"),
    (
        "proc glimmix; class tx; model y = x / dist=poisson; random _residual_ / group=tx;",
        "group=tx",
    ),
    ("class g; model y = x / offset=logt;", "offset=logt"),
    ("class g; model y = x; random int / sub=g(a=1);", "g(a=1)"),
    ("class g; model y = x; repeated / group=a*b;", "group=a*b"),
    ("class a(ref=top); model y = a;", "ref=top"),
    ("class g; model y = x / bogus;", "bogus"),
    ("class g; model y = x; random int / subject=g ldata=w;", "ldata=w"),
    ("class g; model y = x; random int x z / subject=g type=fa0(2);", "type=fa0(2)"),
    ("class g; model y = x; random g / type=un;", "type=un"),
    ("model y = x; random x;", "x"),
    ("x2 = x*x; model y = x2;", "x2"),
    ("proc reg; model y = x;", "proc reg"),
    ("model y = x; frobnicate;", "frobnicate"),
    ("class a; model y = a(b=1);", "a(b=1)"),
]


@pytest.mark.parametrize(("sas", "quoted"), ERRORS)
def test_errors_quote_and_point_at_the_option(sas, quoted):
    with pytest.raises(TranslationError) as info:
        translate_sas(sas)
    err = info.value
    assert quoted in str(err)
    assert err.formula is not None and err.position is not None
    assert err.formula[err.position :].startswith(quoted)


def test_missing_model_statement():
    with pytest.raises(TranslationError, match="no MODEL statement"):
        translate_sas("proc mixed; class g; random int / subject=g; run;")


def test_there_are_enough_error_cases():
    assert len(ERRORS) >= 8


def test_error_messages_say_what_is_valid():
    with pytest.raises(TranslationError, match=r"first-order autoregressive.*supported: type=vc"):
        translate_sas("class g; model y = x; random x / subject=g type=ar(1);")
    with pytest.raises(TranslationError, match="supported distributions: normal, binary"):
        translate_sas("proc glimmix; model y = x / dist=tcentral;")


# Each translation builds a model on real data: the output is valid syntax (no fitting).
BUILDS = [
    (
        "class subject; model reaction = days; random int days / subject=subject type=un;",
        "sleepstudy",
    ),
    (
        "proc glimmix; class herd period; model incidence/size = period / dist=binomial;"
        " random intercept / subject=herd;",
        "cbpp",
    ),
    (
        "proc glimmix; class patient trt; model count = zAge zBase trt zBase*trt / dist=poisson;"
        " random int / subject=patient;",
        "epilepsy",
    ),
    (TRIAL, "partially_clustered"),
    (
        "proc glimmix; class judge temp contact; model rating = temp|contact / dist=multinomial;"
        " random int / subject=judge;",
        "wine",
    ),
]


@pytest.mark.parametrize(("sas", "data"), BUILDS)
def test_translation_builds_a_model(request, sas, data):
    df = request.getfixturevalue(data)
    if data == "wine":  # the cumulative family reads an ordered categorical response
        df = df.assign(rating=pd.Categorical(df["rating"], ordered=True))
    t = translate_sas(sas, df)
    model = ml.Model(**t.model_arguments(), data=df)
    assert model.formula == ", ".join(t.formulas)
