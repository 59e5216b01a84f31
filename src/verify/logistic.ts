/** Options of `fitLogistic`. */
export interface LogisticOptions {
  /** L2 strength (on the sum of the per-class-weighted losses, each class weighing 1 in total). */
  l2: number;
  /** The weights are pulled towards this (default 0). */
  prior?: ArrayLike<number>;
  iterations?: number;
}

/** A fitted linear logistic model: P(y = 1 | f) = σ(w·f + b). */
export interface LogisticModel {
  weights: Float64Array;
  bias: number;
}

/**
 * Class-balanced, L2-regularised logistic regression by Newton's method (IRLS): few features (tens), so the
 * d × d Hessian is cheap and 8–15 steps converge where gradient descent would need a learning rate to tune.
 */
export function fitLogistic(
  rows: readonly Float64Array[],
  labels: ArrayLike<number>,
  options: LogisticOptions,
): LogisticModel {
  const d = rows[0]!.length;
  const p = d + 1; // the bias is the last coordinate and is not regularised
  const prior = new Float64Array(d);
  if (options.prior) for (let j = 0; j < d; j++) prior[j] = options.prior[j]!;
  const theta = new Float64Array(p);
  theta.set(prior);
  let pos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) pos++;
  const neg = labels.length - pos;
  const wPos = pos ? 1 / pos : 0;
  const wNeg = neg ? 1 / neg : 0;
  const iterations = options.iterations ?? 12;
  const H = new Float64Array(p * p);
  const g = new Float64Array(p);
  for (let it = 0; it < iterations; it++) {
    H.fill(0);
    g.fill(0);
    for (let i = 0; i < rows.length; i++) {
      const f = rows[i]!;
      const y = labels[i]!;
      const w = y === 1 ? wPos : wNeg;
      let z = theta[d]!;
      for (let j = 0; j < d; j++) z += theta[j]! * f[j]!;
      const mu = 1 / (1 + Math.exp(-z));
      const r = w * (mu - y);
      const s = w * Math.max(mu * (1 - mu), 1e-9);
      for (let a = 0; a < p; a++) {
        const fa = a === d ? 1 : f[a]!;
        g[a]! += r * fa;
        for (let b = 0; b <= a; b++) H[a * p + b]! += s * fa * (b === d ? 1 : f[b]!);
      }
    }
    for (let j = 0; j < d; j++) {
      g[j]! += 2 * options.l2 * (theta[j]! - prior[j]!);
      H[j * p + j]! += 2 * options.l2;
    }
    H[d * p + d]! += 1e-9;
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) H[b * p + a] = H[a * p + b]!;
    const step = solveSymmetric(H, g, p);
    let change = 0;
    for (let a = 0; a < p; a++) {
      theta[a]! -= step[a]!;
      change = Math.max(change, Math.abs(step[a]!));
    }
    if (change < 1e-7) break;
  }
  return { weights: theta.slice(0, d), bias: theta[d]! };
}

/** Solves H x = g for a symmetric positive definite H (Cholesky; a tiny ridge keeps it definite). */
function solveSymmetric(H: Float64Array, g: Float64Array, p: number): Float64Array {
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = H[i * p + j]!;
      for (let k = 0; k < j; k++) s -= L[i * p + k]! * L[j * p + k]!;
      if (i === j) L[i * p + i] = Math.sqrt(Math.max(s, 1e-12));
      else L[i * p + j] = s / L[j * p + j]!;
    }
  }
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = g[i]!;
    for (let k = 0; k < i; k++) s -= L[i * p + k]! * y[k]!;
    y[i] = s / L[i * p + i]!;
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < p; k++) s -= L[k * p + i]! * x[k]!;
    x[i] = s / L[i * p + i]!;
  }
  return x;
}
