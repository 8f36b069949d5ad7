import { medianInterval, verdictOf } from '../../bench/suite/stats.js';

// The bench (bench/suite/) judges its goals over the rounds with these.
describe('medianInterval() (distribution-free 95 % interval of a median)', () => {
  const ranks = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it.each([
    // n, k-th smallest and k-th largest, from the binomial table: the largest k with P(B(n, 1/2) <= k - 1) <= 0.025
    [6, 1, 6],
    [10, 2, 9],
    [21, 6, 16],
    [30, 10, 21],
  ])('n = %i: from value number %i to value number %i, in ascending order', (n, low, high) => {
    // Shuffled input: the function sorts.
    const values = ranks(n).sort((a, b) => ((a * 7919) % 13) - ((b * 7919) % 13));
    const interval = medianInterval(values);
    expect([interval.low, interval.high]).toEqual([low, high]);
    expect(interval.median).toBe(n % 2 ? (n + 1) / 2 : n / 2 + 0.5);
  });

  it('gives no interval below six values (even min..max would cover less than 95 %)', () => {
    expect(medianInterval(ranks(5))).toEqual({ median: 3, low: -Infinity, high: Infinity });
  });
});

describe('verdictOf()', () => {
  it('says met only when the whole interval is at or above the target, not met only when all of it is below', () => {
    expect(verdictOf(0.9, 1.1, 0.9)).toBe('met');
    expect(verdictOf(0.85, 0.899, 0.9)).toBe('not met');
    expect(verdictOf(0.85, 0.9, 0.9)).toBe('undecided');
    expect(verdictOf(-Infinity, Infinity, 1.2)).toBe('undecided');
  });
});
