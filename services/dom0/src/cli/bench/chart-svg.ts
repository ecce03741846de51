// The SVG chart of a bench modes run: per benchmark a group of bars, one per column (the
// modes, then QEMU), guest ns/op on a log scale (the columns differ by orders of magnitude).
// Plain SVG 1.1 with its text in it: any browser or rsvg-convert opens it.
import type { Row } from './results.js';
import { fmt } from './results.js';

const COLORS: Record<string, string> = { emulate: '#d95f02', hw: '#1b9e77', trap: '#7570b3', pv: '#e7298a', qemu: '#666666' };
const FALLBACK = ['#66a61e', '#e6ab02', '#a6761d'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** "1 µs" for 1000 ns and so on: the axis' labels. */
export function nsLabel(ns: number): string {
  const f = (x: number) => (Number.isInteger(Math.round(x * 1000) / 1000) ? String(Math.round(x)) : fmt(x));
  if (ns >= 1e9) return `${f(ns / 1e9)} s`;
  if (ns >= 1e6) return `${f(ns / 1e6)} ms`;
  if (ns >= 1e3) return `${f(ns / 1e3)} µs`;
  return `${f(ns)} ns`;
}

export function renderChart(rows: readonly Row[], columns: readonly string[], title: string): string {
  const values = rows.flatMap((r) => columns.map((c) => r.cells[c]?.nsPerOp).filter((v): v is number => v !== undefined && v > 0));
  // From the power of ten under the fastest bar to the one over the slowest.
  const lo = values.length ? Math.floor(Math.log10(Math.min(...values))) : 0;
  const hi = Math.max(lo + 1, values.length ? Math.ceil(Math.log10(Math.max(...values))) : 1);
  const barW = 14;
  const gap = 18;
  const groupW = columns.length * barW + gap;
  const left = 70;
  const top = 70;
  const plotH = 300;
  const bottom = 95;
  const width = Math.max(left + rows.length * groupW + 20, 420);
  const height = top + plotH + bottom;
  const y = (ns: number) => top + plotH - ((Math.log10(ns) - lo) / (hi - lo)) * plotH;
  const color = (c: string, i: number) => COLORS[c] ?? FALLBACK[i % FALLBACK.length]!;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="36" fill="#444">guest ns/op, log scale (lower is faster)</text>`,
  );
  for (let p = lo; p <= hi; p++) {
    const yy = y(10 ** p).toFixed(1);
    parts.push(`<line x1="${left}" y1="${yy}" x2="${width - 10}" y2="${yy}" stroke="#dddddd"/>`);
    parts.push(`<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${esc(nsLabel(10 ** p))}</text>`);
  }
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#000"/>`);
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - 10}" y2="${top + plotH}" stroke="#000"/>`);
  rows.forEach((r, g) => {
    const x0 = left + 10 + g * groupW;
    columns.forEach((c, i) => {
      const v = r.cells[c]?.nsPerOp;
      if (v === undefined || !(v > 0)) return;
      const yy = y(v);
      parts.push(
        `<rect class="bar" data-bench="${esc(r.bench)}" data-column="${esc(c)}" data-ns-per-op="${v}" x="${x0 + i * barW}" y="${yy.toFixed(1)}" width="${barW - 2}" height="${(top + plotH - yy).toFixed(1)}" fill="${color(c, i)}"><title>${esc(`${r.bench}, ${c}: ${fmt(v)} ns/op`)}</title></rect>`,
      );
    });
    const lx = x0 + (columns.length * barW) / 2;
    const ly = top + plotH + 12;
    parts.push(`<text x="${lx}" y="${ly}" text-anchor="end" transform="rotate(-40 ${lx} ${ly})">${esc(r.bench)}</text>`);
  });
  // The legend on a row of its own under the title, from the plot's left edge.
  columns.forEach((c, i) => {
    const lx = left + i * 100;
    parts.push(`<rect class="legend" x="${lx}" y="44" width="10" height="10" fill="${color(c, i)}"/>`);
    parts.push(`<text x="${lx + 14}" y="53">${esc(c === 'qemu' ? 'QEMU 7.2' : c)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
