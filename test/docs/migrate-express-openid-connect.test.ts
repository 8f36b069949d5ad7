/**
 * Issue 16 B: every row of the express-openid-connect migration guide's tables says what became of
 * the old name: "same", "renamed" or "deliberately different, because ...". No silent gaps.
 */
import { readFileSync } from 'node:fs';
import { unpaddedRow } from '../support/markdown.js';

const guide = readFileSync(new URL('../../docs/migrate-from-express-openid-connect.md', import.meta.url), 'utf8');
const rows = guide
  .split('\n')
  .map(unpaddedRow)
  .filter((line) => line.startsWith('| ') && !line.startsWith('| ---') && !line.startsWith('| express-openid-connect |'))
  .map((line) => line.slice(2, -2).split(' | '));

describe('docs/migrate-from-express-openid-connect.md', () => {
  it('has its tables (the check bites)', () => {
    expect(rows.length).toBeGreaterThan(80);
  });

  it.each(rows.map((cells) => [cells[0]!, cells.at(-1)!]))(
    'row %s ends as same, renamed or deliberately different, because ...',
    (_old, verdict) => {
      expect(verdict).toMatch(/^(Same\b|Renamed\b|Deliberately different\b.*\bbecause\b)/s);
      expect(verdict).not.toMatch(/not supported|not read|not needed|not an option/i);
    },
  );

  it('lists no row whose old name is empty (new things are listed after each table)', () => {
    expect(rows.filter((cells) => cells[0] === '—')).toEqual([]);
  });
});
