/**
 * Statistics for the bench tables: the median of the rounds, and a distribution-free 95 %
 * interval of a median, used to say whether a goal is met over the rounds or only on their median.
 */

export type Verdict = 'met' | 'not met' | 'undecided';

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomialCdf(n: number, k: number): number {
  let term = 0.5 ** n;
  let sum = term;
  for (let i = 1; i <= k; i += 1) {
    term = (term * (n - i + 1)) / i;
    sum += term;
  }
  return sum;
}

/**
 * The distribution-free 95 % confidence interval of the median of `values`: the k-th smallest
 * and k-th largest, with the largest k such that P(Binomial(n, 1/2) <= k - 1) <= 0.025.
 */
export function medianInterval(values: readonly number[]): { median: number; low: number; high: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  const median = n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  let k = 0;
  while (k + 1 <= n && binomialCdf(n, k) <= 0.025) k += 1;
  // k now counts the order statistics outside on each side, plus one (0: too few values).
  if (k === 0) return { median, low: -Infinity, high: Infinity };
  return { median, low: sorted[k - 1]!, high: sorted[n - k]! };
}

export function verdictOf(low: number, high: number, target: number): Verdict {
  if (low >= target) return 'met';
  if (high < target) return 'not met';
  return 'undecided';
}
