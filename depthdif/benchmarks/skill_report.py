"""The skill benchmark's report: its tables, its verdict against issue 10's goals, its section text.

Kept apart from depthdif/benchmarks/skill.py (which trains and scores) so that the words and
tables of BENCHMARKS.md "skill*" can be read and changed in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from depthdif.benchmarks.baselines import _markdown
from depthdif.benchmarks.report import machine_line
from depthdif.benchmarks.skill_cases import Case

if TYPE_CHECKING:
    from depthdif.benchmarks.skill import Settings

BANDS_M = (0.0, 100.0, 500.0, 2000.0)
BAR = "oi_eo"


def skill_table(result, info: dict) -> pd.DataFrame:
    """One row per method: withheld RMSE per band and overall, ratio to OI+EO, full field, ensemble scores."""
    bands = result.table[result.table["scope"] == "band"].pivot_table(
        index="method", columns=["metric", "band"], values="value", sort=False, dropna=False)
    overall = result.overall()
    bar = overall.loc[BAR, "rmse_withheld"]
    rows = []
    for name in result.methods:
        meta = info.get(name, {})
        row = {"method": name, "steps": str(meta.get("steps", "-")),
               "train CPU-min": f"{meta['train CPU-min']:.1f}" if "train CPU-min" in meta else "-"}
        for lo, hi in zip(BANDS_M[:-1], BANDS_M[1:]):
            key = ("rmse_withheld", f"{lo:g}-{hi:g}m")  # a band nobody observed has no column
            row[f"withheld {lo:g}-{hi:g} m"] = bands.loc[name, key] if key in bands.columns else float("nan")
        row["withheld ≤2000 m"] = overall.loc[name, "rmse_withheld"]
        row[f"× {BAR}"] = overall.loc[name, "rmse_withheld"] / bar
        row["full ≤2000 m"] = overall.loc[name, "rmse_full"]
        for key, label in (("spread_skill_ratio", "spread/skill"), ("crps_withheld", "CRPS withheld")):
            value = overall.loc[name, key] if key in overall.columns else float("nan")
            row[label] = "-" if pd.isna(value) else f"{value:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def surface_table(result, levels: int = 2) -> pd.DataFrame:
    """Full-field RMSE and bias (°C) at the top levels, where Argo rarely measures and SST is all."""
    rmse, bias = result.by_depth("rmse_full"), result.by_depth("bias_full")
    rows = []
    for name in result.methods:
        row = {"method": name}
        for depth in rmse.index[:levels]:
            row[f"RMSE {depth:.1f} m"] = rmse.loc[depth, name]
            row[f"bias {depth:.1f} m"] = bias.loc[depth, name]
        rows.append(row)
    return pd.DataFrame(rows)


def band_ratios(result) -> pd.DataFrame:
    bands = result.table[(result.table["scope"] == "band") & (result.table["metric"] == "rmse_withheld")]
    pivot = bands.pivot_table(index="method", columns="band", values="value", sort=False)
    return pivot.div(pivot.loc[BAR], axis=1)


def reading(result) -> str:
    """The verdict against the goals, from the numbers of this run."""
    overall = result.overall()["rmse_withheld"]
    ratio = overall / overall[BAR]
    trained = [m for m in result.methods if m.startswith(("pixel", "latent")) and "uncalibrated" not in m]
    if not trained:
        return "Reading: no model trained in this run."
    if ratio[trained].isna().all():
        return ("Reading: no withheld profile was scored (no float of the test area was withheld), so this "
                "run gives no verdict.")
    best = ratio[trained].idxmin()
    worst_band = band_ratios(result).loc[best].max()
    ambient = [m for m in trained if "ambient" in m]
    text = (f"Reading: best model {best!r} at {ratio[best]:.2f}x the OI+EO withheld-profile RMSE overall "
            f"(goal ≤ 0.85) and at most {worst_band:.2f}x in any depth band (goal ≤ 1.0)")
    if ambient:
        best_ambient = ratio[ambient].idxmin()
        text += f"; best ambient row {best_ambient!r} at {ratio[best_ambient]:.2f}x (goal ≤ 1.0)"
    for name in (m for m in result.methods if m.startswith("reference")):
        text += f"; {name!r} at {ratio[name]:.2f}x"
    overall_table = result.overall()
    if "spread_skill_ratio" in overall_table.columns:
        spread = overall_table.loc[trained, "spread_skill_ratio"].dropna()
        if len(spread):
            calibrated = (spread - 1.0).abs().idxmin()
            text += (f"; spread-skill ratio closest to 1: {calibrated!r} at {spread[calibrated]:.2f} (goal 0.7-1.3; "
                     f"its RMSE {ratio[calibrated]:.2f}x)")
    return text + "."


def recipe_text(quick: bool) -> str:
    unet = "UNet base 16, mults [1,2]" if quick else "UNet base 24, mults [1,2,2], attention at 1/4 resolution"
    return f"{unet}, T = 200 cosine, x0 parameterization (v where the row says so), AdamW lr 1e-3 cosine, EMA 0.995"


def render(case: Case, settings: Settings, result, info: dict, quick: bool) -> str:
    ae = info.get("autoencoder")
    ae_text = (f" The latent rows' band-only autoencoder trained {ae['steps']} steps "
               f"({ae['train CPU-min']:.1f} CPU-min, not counted in their budget).") if ae else ""
    command = (f"python -m depthdif.benchmarks.skill --case {case.name}{' --quick' if quick else ''}"
               f"{f' --steps {settings.steps}' if settings.steps else ''}")
    budget = (f"{settings.steps} optimizer steps (batch 16) per diffusion model, fixed" if settings.steps else
              f"{settings.budget_s / 60:.1f} CPU-minutes of training per diffusion model (steps of batch 16 it "
              "bought in the table)")
    surface = (["Surface levels (full field vs the dense truth; Argo rarely reaches them, the SST does):", "",
                _markdown(surface_table(result)), ""] if case.has_target else [])
    return "\n".join([
        f"## Skill ({case.name}): diffusion vs OI on the EO-regression background (withheld floats, disjoint test area)",
        "",
        f"`{command}` - {machine_line()}, 1 torch thread",
        "",
        f"Case `{case.name}`: {case.description}. Scored on the {result.n_patches} test windows: "
        f"{result.withheld_text()}; RMSE in °C, levels ≤ 2000 m pooled. Budget: {budget}; scored as the "
        f"mean of {settings.members} DDIM ({settings.ddim_steps} steps) members, EMA weights. Recipe: "
        f"{recipe_text(quick)}; `+ {BAR}` rows diffuse the residual from the OI+EO background "
        f"(`model.background: {BAR}`, built from exactly the model's input; 20 % of profiles hidden from it per "
        f"training step in the standard objective, δ = 0.25 in the ambient one). After training, one validation "
        "pass over 64 windows of the val split (not the test area) fits each model's calibration "
        "(`sampling.calibration: validation`, the default: a residual gain α ∈ [0, 1] towards the background "
        "and a spread inflation per depth band, from the withheld floats there); `(uncalibrated)` rows are the "
        "same weights sampled raw. The `reference` rows are issue 10's feasibility net: the same UNet, "
        "background, profile drop, EMA, calibration and budget, trained by plain regression of the residual "
        "(benchmarks/residual_regression.py), one output per window (no spread)."
        f"{ae_text}",
        "",
        _markdown(skill_table(result, info)),
        "",
        *surface,
        f"A training step with the {BAR} background (computed on the fly from the step's input, batched OI) "
        f"costs {info['step cost']:.2f}x one without (loss + backward, interleaved, median; goal ≤ 1.3).",
        "",
        reading(result),
    ])
