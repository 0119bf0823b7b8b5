/** Money for people (shared by the terminal output and the web UI, so it imports nothing). */

/** A USD amount: cents for dollars, more digits for fractions of a cent. */
export function formatUsd(v: number): string {
  if (v === 0) return '$0.00';
  if (v >= 1) return `$${v.toFixed(2)}`;
  if (v >= 0.01) return `$${v.toFixed(4)}`;
  return `$${v.toFixed(6)}`;
}

/** USD amounts are kept to a billionth of a cent, so sums of floats stay readable. */
export const roundUsd = (v: number): number => Math.round(v * 1e11) / 1e11;
