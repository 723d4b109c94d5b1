# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · A classical model: CatBoost explained with SHAP's TreeExplainer
#
# **What you will learn**
#
# - how SHAP values explain a gradient-boosted tree model, exactly and fast, with
#   `shap.TreeExplainer`;
# - how to check **additivity**: SHAP values plus the base value give back the model's output;
# - how to read the four classic SHAP plots: beeswarm, bar, dependence and waterfall;
# - how SHAP importance compares with the model's own feature importance.
#
# **About the data.** Many older tutorials use the Boston housing data set. It was removed
# from scikit-learn (version 1.2) because one of its features was engineered from the
# proportion of Black residents of each town, on the assumption that racial
# self-segregation raises house prices; the data set carries that assumption into any model
# trained on it. We use scikit-learn's **diabetes** data instead: 442 patients, 10
# baseline measurements, and a measure of disease progression one year later to predict.
# It ships with scikit-learn, so it works offline.

# %%
import time

import catboost
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

from helpers import settings

print(settings.describe())

# %% [markdown]
# ## Knobs

# %%
from helpers.settings import knob

ITERATIONS = knob(full=800, quick=100)  # boosting rounds
LEARNING_RATE = 0.03
DEPTH = 4  # depth of each tree
TEST_SIZE = 0.25
SEED = 0
EXPLAINED_PATIENT = 0  # row of the test set explained in the waterfall plot

# %% [markdown]
# ## 1. Data and model
# The features are age, sex, body-mass index (`bmi`), average blood pressure (`bp`) and six
# blood serum measurements (`s1`-`s6`), each centred and scaled by scikit-learn. The
# target is a quantitative measure of disease progression after one year (about 25 to 346).

# %%
data = load_diabetes(as_frame=True)
X, y = data.data, data.target
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=TEST_SIZE, random_state=SEED)
print(f"{len(X_train)} training and {len(X_test)} test patients, {X.shape[1]} features: {', '.join(X.columns)}")

start = time.time()
model = catboost.CatBoostRegressor(iterations=ITERATIONS, learning_rate=LEARNING_RATE, depth=DEPTH,
                                   random_seed=SEED, verbose=False, allow_writing_files=False)
model.fit(X_train, y_train, eval_set=(X_test, y_test))
prediction = model.predict(X_test)
baseline_error = mean_absolute_error(y_test, np.full_like(y_test, y_train.mean()))
print(f"trained {ITERATIONS} trees in {time.time() - start:.1f} s")
print(f"test MAE: {mean_absolute_error(y_test, prediction):.1f} (predicting the training mean: {baseline_error:.1f}) | "
      f"test R²: {r2_score(y_test, prediction):.2f}")

# %% [markdown]
# A mean absolute error clearly below the "always predict the mean" baseline, with a modest
# R² (printed above; published models on this data set reach about 0.4-0.5), is typical for
# this small, noisy data set: the model captures real structure, but most of the variation
# in progression is not explained by these ten numbers. Keep that in mind: we
# are about to explain *the model*, not the disease.
#
# ## 2. SHAP values of a tree ensemble, and additivity
# For tree models, `TreeExplainer` computes SHAP values **exactly** in polynomial time
# (Lundberg et al., 2020), no sampling involved. For each patient, the values
# $\phi_1, \dots, \phi_{10}$ satisfy
#
# $$
# f(x) = \phi_0 + \sum_{j=1}^{10} \phi_j(x),
# $$
#
# where $\phi_0$ (the *base value*) is the model's average prediction over the training
# data. Let us check that to floating-point precision.

# %%
explainer = shap.TreeExplainer(model)
explanation = explainer(X_test)
reconstructed = explanation.base_values + explanation.values.sum(axis=1)
additivity_error = np.abs(reconstructed - prediction).max()
print(f"base value φ0 = {float(np.atleast_1d(explanation.base_values)[0]):.2f}")
print(f"max |φ0 + Σφ - model output| over {len(X_test)} patients = {additivity_error:.2e}")

# %%
# NBVAL_CHECK_OUTPUT
print("additivity holds (error < 1e-6 of the output scale):", additivity_error < 1e-6 * np.abs(prediction).max())

# %% [markdown]
# ## 3. The beeswarm: every patient, every feature
# One dot per patient and feature. Horizontal position: that feature's SHAP value for that
# patient (how much it moved the prediction from the base value). Colour: the feature's
# value (red high, blue low). Features are sorted by mean |SHAP|.

# %%
shap.plots.beeswarm(explanation, show=False)
plt.title("SHAP values of the CatBoost model on the test set")
plt.show()

# %% [markdown]
# **Reading it.** Look at the top rows first: in this data set `bmi` and `s5` (log of serum
# triglycerides) usually dominate, in the direction medicine expects: red dots (high
# values) on the right, so high BMI and high triglycerides push the predicted progression
# up, with blood pressure `bp` next. A feature whose red dots sit on the *left* works the
# other way (`s3`, HDL, the "good" cholesterol, typically does). Features bunched around zero
# barely move any prediction.
#
# ## 4. The bar plot: global importance

# %%
shap.plots.bar(explanation, show=False)
plt.title("Mean |SHAP value| per feature")
plt.show()

# %% [markdown]
# ## 5. Dependence: how one feature's effect varies
# The SHAP value of `bmi` against the value of `bmi`, coloured by the feature SHAP finds
# interacts with it most. A clean rising curve means a monotone effect; vertical spread at
# one `bmi` value comes from interactions with other features.

# %%
shap.plots.scatter(explanation[:, "bmi"], color=explanation, show=False)
plt.title("Dependence of the prediction on bmi")
plt.show()

# %% [markdown]
# ## 6. One patient: the waterfall
# Starting from the base value $E[f(X)]$, each bar adds one feature's contribution until the
# model's prediction for this patient, $f(x)$, is reached.

# %%
shap.plots.waterfall(explanation[EXPLAINED_PATIENT], show=False)
plt.title(f"Why the model predicts {prediction[EXPLAINED_PATIENT]:.0f} for test patient {EXPLAINED_PATIENT} "
          f"(true: {y_test.iloc[EXPLAINED_PATIENT]:.0f})")
plt.show()

# %% [markdown]
# ## 7. SHAP importance vs CatBoost's own importance
# CatBoost reports `PredictionValuesChange` importance: how much, on average, the
# prediction changes when a feature's split values change, normalised to sum to 100. SHAP's
# mean |value| measures the average size of a feature's contribution to individual
# predictions. Both are shown as percentages.

# %%
shap_importance = np.abs(explanation.values).mean(axis=0)
table = pd.DataFrame({
    "SHAP mean |value| (%)": 100 * shap_importance / shap_importance.sum(),
    "CatBoost importance (%)": model.get_feature_importance(),
}, index=X.columns).sort_values("SHAP mean |value| (%)", ascending=False)
rank_correlation = table.corr(method="spearman").iloc[0, 1]

ax = table.plot.barh(figsize=(8, 4.5))
ax.invert_yaxis()
ax.set_xlabel("share of total importance (%)")
ax.set_title(f"Two importance measures (Spearman rank correlation {rank_correlation:.2f})")
plt.show()
table.round(1)

# %% [markdown]
# The two rankings largely agree at the top (they should: both look at the same trees), but
# they answer different questions. CatBoost's number is a property of the model's splits;
# SHAP's is a property of the model's *predictions on the data you pass*, and it comes with
# per-patient values, signs and dependence plots. Only SHAP's values add up to each
# prediction.
#
# ## Summary
#
# - `TreeExplainer` gives exact SHAP values for tree ensembles; additivity
#   ($\phi_0 + \sum_j \phi_j = f(x)$) holds to float precision and is worth checking.
# - Beeswarm: global importance *and* direction; bar: global importance; dependence: the
#   shape of one feature's effect; waterfall: one prediction, feature by feature.
# - SHAP explains the model, not the world: with a modest R², the model is a rough summary
#   of the data and its explanations inherit that.
#
# ## Exercises
#
# 1. Retrain with `DEPTH = 1` (each tree uses one feature). How do the dependence plot and
#    the interaction colouring change, and why?
# 2. Compute SHAP interaction values (`explainer.shap_interaction_values(X_test)`) and find
#    the strongest pair of features.
# 3. Add a column of pure noise to `X` and retrain. Where does it land in the SHAP bar plot
#    and in CatBoost's importance?
