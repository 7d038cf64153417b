"""The expected-recovery model's arithmetic: scale transform, design, profiled REML fit, conditional prediction.

No clinic here: arrays in, arrays out, so that the likelihood can be
checked on its own against statsmodels ``MixedLM`` and on simulated data.
The model, its data and its use are in :mod:`.recovery`.

The model, for follow-up score j of course i on the transformed scale z::

    z_ij = x_ij' beta + b_i + e_ij,   b_i ~ N(0, tau2),   e_ij ~ N(0, s2)

With ``g = tau2 / s2`` the covariance of course i's n_i scores is
``V_i = s2 (I + g J)``, whose inverse is ``(I - g / (1 + n_i g) J) / s2``.
Every quantity of the restricted likelihood is then a sum of per-course
sums (``X'X``, ``X'y``, ``y'y`` minus a weighted sum over courses of the
course totals), so the REML criterion, with ``s2`` profiled out, is a
function of ``g`` alone and is maximised over ``log g`` by a scalar search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

#: Continuity offset of the logit transform, in scale points: keeps the scale's ends finite.
OFFSET = 0.5
#: Search range of log(tau2 / s2) in the REML fit.
LOG_G_RANGE = (-15.0, 8.0)
#: Most knots of the time trend, and the distinct follow-up days needed per knot.
MAX_KNOTS = 3
DAYS_PER_KNOT = 5


def to_z(y, lo: float, hi: float, offset: float = OFFSET) -> np.ndarray:
    """logit((y - lo + c) / (hi - lo + 2c)): a score on a bounded scale to the whole real line."""
    p = (np.asarray(y, dtype=float) - lo + offset) / (hi - lo + 2 * offset)
    return np.log(p) - np.log1p(-p)


def from_z(z, lo: float, hi: float, offset: float = OFFSET) -> np.ndarray:
    """The inverse of :func:`to_z`, clipped to the scale (the transform reaches slightly past its ends)."""
    p = expit(np.asarray(z, dtype=float))
    return np.clip(lo - offset + p * (hi - lo + 2 * offset), lo, hi)


def choose_knots(days: np.ndarray) -> tuple[float, ...]:
    """Knots of the piecewise-linear time trend: quantiles of the follow-up readings' days.

    One knot per :data:`DAYS_PER_KNOT` distinct follow-up days beyond the
    first five, at most :data:`MAX_KNOTS`: under 10 distinct days the trend
    is a straight line. Knots sit at equally spaced quantiles of the
    readings' days (so every segment has readings), rounded to whole days.
    """
    distinct = np.unique(days)
    n_knots = int(np.clip(len(distinct) // DAYS_PER_KNOT - 1, 0, MAX_KNOTS))
    if n_knots == 0:
        return ()
    knots = np.unique(np.round(np.quantile(days, np.arange(1, n_knots + 1) / (n_knots + 1))))
    return tuple(float(k) for k in knots if distinct.min() < k < distinct.max())


def time_basis(days: np.ndarray, knots: tuple[float, ...], day_max: float) -> np.ndarray:
    """Piecewise-linear basis in weeks: t, then (t - k)+ per knot; days beyond ``day_max`` held at it."""
    t = np.clip(np.asarray(days, dtype=float), 0.0, day_max) / 7.0
    columns = [t] + [np.maximum(t - k / 7.0, 0.0) for k in knots]
    return np.column_stack(columns)


@dataclass
class MixedFit:
    """A random-intercept fit: fixed effects, their covariance, variance components, REML log-likelihood."""

    beta: np.ndarray
    cov_beta: np.ndarray
    s2: float
    tau2: float
    llf: float
    n_groups: int
    n_obs: int


def course_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-course column sums of rows sorted by course, courses starting at ``starts``."""
    if len(values) == 0:
        return np.zeros((0,) + values.shape[1:])
    return np.add.reduceat(values, starts, axis=0)


def fit_random_intercept(X: np.ndarray, y: np.ndarray, group: np.ndarray) -> MixedFit:
    """REML fit of ``y = X beta + b[group] + e`` with one random intercept per group.

    ``group`` must be sorted (rows of a group together), as readings are.
    Rank deficiency is the caller's business: ``X`` must have full column rank.
    """
    from scipy.optimize import minimize_scalar

    n, p = X.shape
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, n]).astype(float)
    sx = course_sums(X, starts)  # courses x p
    sy = course_sums(y, starts)
    xtx, xty, yty = X.T @ X, X.T @ y, float(y @ y)
    dof = n - p

    def pieces(log_g: float):
        g = np.exp(log_g)
        c = g / (1.0 + counts * g)
        xwx = xtx - (sx * c[:, None]).T @ sx
        xwy = xty - sx.T @ (c * sy)
        ywy = yty - float(np.sum(c * sy * sy))
        chol = np.linalg.cholesky(xwx)
        beta = np.linalg.solve(xwx, xwy)
        rss = max(ywy - float(beta @ xwy), 1e-300)
        logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
        s2 = rss / dof
        llf = -0.5 * (dof * np.log(s2) + float(np.sum(np.log1p(counts * g))) + logdet + dof * (1.0 + np.log(2 * np.pi)))
        return llf, beta, s2, xwx

    found = minimize_scalar(lambda v: -pieces(v)[0], bounds=LOG_G_RANGE, method="bounded", options={"xatol": 1e-7})
    llf, beta, s2, xwx = pieces(float(found.x))
    tau2 = float(np.exp(found.x)) * s2
    return MixedFit(beta, s2 * np.linalg.inv(xwx), float(s2), tau2, float(llf), len(starts), n)


def conditional_moments(
    fixed: np.ndarray, x: np.ndarray, sum_resid: np.ndarray, n_prior: np.ndarray, fit: MixedFit
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (z scale) of a new score given ``n_prior`` earlier residuals summing to ``sum_resid``.

    BLUP of the course intercept ``b = tau2 sum(r) / (s2 + n tau2)`` with
    conditional variance ``tau2 s2 / (s2 + n tau2)``; the variance of a new
    score adds the residual variance and ``x' cov(beta) x`` (the
    uncertainty of the fixed part). With ``n = 0`` this is the marginal
    ("patients like you") prediction.
    """
    denominator = fit.s2 + n_prior * fit.tau2
    b_hat = fit.tau2 * sum_resid / denominator
    var_b = fit.tau2 * fit.s2 / denominator
    var_fixed = np.einsum("ij,jk,ik->i", x, fit.cov_beta, x)
    return fixed + b_hat, var_fixed + var_b + fit.s2
