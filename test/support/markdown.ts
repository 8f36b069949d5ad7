/**
 * Reading the Markdown that the docs tests check, whatever its formatting: Prettier pads table
 * cells to align the columns (`| a    | b |`); a hand-written table does not (`| a | b |`).
 */

/** A table row with single spaces around each `|`, as written by hand (Prettier's padding undone). */
export function unpaddedRow(line: string): string {
  return line.replace(/ {2,}\|/g, ' |').replace(/\| {2,}/g, '| ');
}
