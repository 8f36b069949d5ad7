/**
 * SVG charts written by the bench (no dependency): horizontal bars in panels, each panel with its
 * reference lines (a bare primitive, a goal), and a line chart for RSS over time. Plain SVG 1.1
 * that GitHub renders in BENCHMARKS.md.
 */

export interface Bar {
  label: string;
  value: number;
}

export interface RefLine {
  label: string;
  value: number;
  /** `bare` is drawn solid, `goal` dashed. */
  kind: 'bare' | 'goal';
}

export interface Panel {
  title: string;
  bars: Bar[];
  lines?: RefLine[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#2b6cb0', '#c05621', '#6b46c1', '#2f855a', '#718096'];
const FONT = 'font-family="sans-serif" font-size="12"';

/** Bars in panels, one scale per panel (from 0), values printed at the bar's end. */
export function barChart(title: string, unit: string, panels: Panel[]): string {
  const width = 720;
  const left = 190;
  const right = 90;
  const barH = 18;
  const plotW = width - left - right;
  let y = 34;
  const out: string[] = [`<text x="10" y="20" ${FONT} font-size="14" font-weight="bold">${esc(title)}</text>`];
  for (const panel of panels) {
    const lines = panel.lines ?? [];
    const max = Math.max(1e-9, ...panel.bars.map((b) => b.value), ...lines.map((l) => l.value)) * 1.05;
    const x = (v: number) => left + (Math.max(0, v) / max) * plotW;
    out.push(`<text x="10" y="${y + 12}" ${FONT} font-weight="bold">${esc(panel.title)}</text>`);
    y += 20;
    const top = y;
    panel.bars.forEach((bar, i) => {
      out.push(`<text x="${left - 6}" y="${y + 13}" ${FONT} text-anchor="end">${esc(bar.label)}</text>`);
      out.push(
        `<rect x="${left}" y="${y}" width="${(x(bar.value) - left).toFixed(1)}" height="${barH}" fill="${COLORS[i % COLORS.length]}"/>`,
      );
      out.push(`<text x="${(x(bar.value) + 4).toFixed(1)}" y="${y + 13}" ${FONT}>${bar.value.toFixed(1)} ${esc(unit)}</text>`);
      y += barH + 4;
    });
    for (const line of lines) {
      const lx = x(line.value).toFixed(1);
      const dash = line.kind === 'goal' ? ' stroke-dasharray="5,3"' : '';
      out.push(
        `<line x1="${lx}" y1="${top - 4}" x2="${lx}" y2="${y}" stroke="${line.kind === 'goal' ? '#c53030' : '#1a202c'}" stroke-width="2"${dash}/>`,
      );
      out.push(`<text x="${lx}" y="${y + 12}" ${FONT} font-size="11" text-anchor="middle">${esc(line.label)}</text>`);
      y += 14;
    }
    y += 16;
  }
  return svg(width, y, out);
}

export interface Series {
  label: string;
  /** [x, y] points, x ascending. */
  points: Array<[number, number]>;
}

/** Lines over a shared x axis (from 0), y from 0 to the largest value. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const width = 720;
  const height = 300;
  const left = 60;
  const bottom = 40;
  const top = 34;
  const right = 20;
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1e-9, ...all.map((p) => p[0]));
  const maxY = Math.max(1e-9, ...all.map((p) => p[1])) * 1.1;
  const x = (v: number) => left + (v / maxX) * (width - left - right);
  const y = (v: number) => height - bottom - (v / maxY) * (height - top - bottom);
  const out: string[] = [`<text x="10" y="20" ${FONT} font-size="14" font-weight="bold">${esc(title)}</text>`];
  out.push(`<line x1="${left}" y1="${y(0)}" x2="${width - right}" y2="${y(0)}" stroke="#1a202c"/>`);
  out.push(`<line x1="${left}" y1="${y(0)}" x2="${left}" y2="${top}" stroke="#1a202c"/>`);
  for (let i = 0; i <= 4; i += 1) {
    const v = (maxY / 4) * i;
    out.push(`<text x="${left - 4}" y="${y(v) + 4}" ${FONT} text-anchor="end">${v.toFixed(0)}</text>`);
    const xv = (maxX / 4) * i;
    out.push(`<text x="${x(xv)}" y="${height - bottom + 16}" ${FONT} text-anchor="middle">${xv.toFixed(0)}</text>`);
  }
  out.push(`<text x="${(left + width - right) / 2}" y="${height - 6}" ${FONT} text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(
    `<text x="14" y="${(top + height - bottom) / 2}" ${FONT} text-anchor="middle" transform="rotate(-90 14 ${(top + height - bottom) / 2})">${esc(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const d = s.points.map(([px, py], j) => `${j ? 'L' : 'M'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`);
    out.push(
      `<text x="${width - right - 4}" y="${top + 14 * (i + 1)}" ${FONT} text-anchor="end" fill="${COLORS[i % COLORS.length]}">${esc(s.label)}</text>`,
    );
  });
  return svg(width, height, out);
}

function svg(width: number, height: number, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n<rect width="100%" height="100%" fill="#ffffff"/>\n${body.join('\n')}\n</svg>\n`;
}
