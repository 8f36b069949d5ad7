/**
 * Issue 16 B: every row of the migration guide's tables says which of three it is: "same",
 * "renamed", or "deliberately different, because ...". A row that says none is a silent gap.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The last cell of every body row of every table in a guide, with the row's first cell. */
function rowsOf(guide: string): Array<{ row: string; verdict: string }> {
  const lines = readFileSync(`${root}docs/${guide}`, 'utf8').split('\n');
  const rows: Array<{ row: string; verdict: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('|') || /^\|\s*-/.test(line) || /^\|\s*-/.test(lines[i + 1] ?? '')) continue;
    const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim());
    rows.push({ row: cells[0]!, verdict: cells.at(-1)! });
  }
  return rows;
}

describe('docs/migrate-from-express-oauth2-jwt-bearer.md', () => {
  const rows = rowsOf('migrate-from-express-oauth2-jwt-bearer.md');

  it('has its tables (environment, options, middleware and exports, req.auth)', () => {
    expect(rows.length).toBeGreaterThan(50);
  });

  it('ends every row as "Same", "Renamed" or "Deliberately different, because ..."', () => {
    const unsorted = rows.filter(({ verdict }) => !/^(Same\b|Renamed\b|Deliberately different, because )/.test(verdict));
    expect(unsorted).toEqual([]);
  });
});
