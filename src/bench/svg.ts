/**
 * A small, dependency-free SVG plotter for the bench: scatter points joined into one curve per
 * series, linear or log x axis, nice ticks, grid, axis labels, a title and a legend beside the plot.
 * Output is a standalone SVG document (opens in any browser; embeds in Markdown).
 *
 *   renderPlot({ title, xLabel, yLabel, series: [{ name: 'threshold', points: [{ x: 2.1, y: 80 }] }] })
 */

export type Marker = 'circle' | 'square' | 'triangle' | 'diamond' | 'star' | 'cross' | 'plus' | 'triangle-down';

export interface PlotPoint {
  x: number;
  y: number;
  /** drawn next to the marker */
  label?: string;
}

export interface PlotSeries {
  name: string;
  points: readonly PlotPoint[];
  color?: string;
  marker?: Marker;
  /** join the points (sorted by x) with a line (default: when there are two or more) */
  line?: boolean;
  dashed?: boolean;
  /** marker radius in px (default 5) */
  size?: number;
}

export interface PlotSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  xScale?: 'linear' | 'log';
  /** fixed domains (default: from the data, padded) */
  xDomain?: [number, number];
  yDomain?: [number, number];
  series: readonly PlotSeries[];
  /** a line under the plot (e.g. what the marks mean) */
  note?: string;
  width?: number;
}

/** Tableau-like palette: distinct, readable on white. */
export const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#1f3b73', '#a0522d', '#2f8f5b', '#8b1e3f', '#5b5ea6', '#c49a00', '#2a9d8f', '#6d597a', '#d1495b', '#3d405b',
];
export const MARKERS: readonly Marker[] = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'plus', 'cross'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A number for a tick label: no float noise, thousands as k. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10000) return `${Number((v / 1000).toPrecision(6))}k`;
  return String(Number(v.toPrecision(6)));
}

/** About `count` round ticks (1, 2, 2.5, 5 × 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Ticks for a log axis: 1, 2, 5 × 10^k inside [min, max] (only powers of ten when the range is wide). */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max > min)) return [min];
  const out: number[] = [];
  const wide = Math.log10(max / min) > 4;
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of wide ? [1] : [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

function markerSvg(marker: Marker, cx: number, cy: number, r: number, color: string): string {
  const f = (v: number) => v.toFixed(1);
  const fill = `fill="${color}" stroke="#ffffff" stroke-width="1"`;
  switch (marker) {
    case 'circle':
      return `<circle cx="${f(cx)}" cy="${f(cy)}" r="${f(r)}" ${fill}/>`;
    case 'square':
      return `<rect x="${f(cx - r)}" y="${f(cy - r)}" width="${f(2 * r)}" height="${f(2 * r)}" ${fill}/>`;
    case 'triangle':
      return `<polygon points="${f(cx)},${f(cy - r * 1.2)} ${f(cx + r * 1.1)},${f(cy + r * 0.8)} ${f(cx - r * 1.1)},${f(cy + r * 0.8)}" ${fill}/>`;
    case 'triangle-down':
      return `<polygon points="${f(cx)},${f(cy + r * 1.2)} ${f(cx + r * 1.1)},${f(cy - r * 0.8)} ${f(cx - r * 1.1)},${f(cy - r * 0.8)}" ${fill}/>`;
    case 'diamond':
      return `<polygon points="${f(cx)},${f(cy - r * 1.3)} ${f(cx + r * 1.1)},${f(cy)} ${f(cx)},${f(cy + r * 1.3)} ${f(cx - r * 1.1)},${f(cy)}" ${fill}/>`;
    case 'star': {
      const pts: string[] = [];
      for (let i = 0; i < 10; i++) {
        const rr = i % 2 === 0 ? r * 1.6 : r * 0.7;
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        pts.push(`${f(cx + rr * Math.cos(a))},${f(cy + rr * Math.sin(a))}`);
      }
      return `<polygon points="${pts.join(' ')}" fill="${color}" stroke="#ffffff" stroke-width="0.8"/>`;
    }
    case 'cross':
      return `<path d="M${f(cx - r)},${f(cy - r)}L${f(cx + r)},${f(cy + r)}M${f(cx - r)},${f(cy + r)}L${f(cx + r)},${f(cy - r)}" stroke="${color}" stroke-width="2.5"/>`;
    case 'plus':
      return `<path d="M${f(cx - r * 1.2)},${f(cy)}L${f(cx + r * 1.2)},${f(cy)}M${f(cx)},${f(cy - r * 1.2)}L${f(cx)},${f(cy + r * 1.2)}" stroke="${color}" stroke-width="2.5"/>`;
  }
}

function domainOf(values: number[], log: boolean, fixed?: [number, number]): [number, number] {
  if (fixed) return fixed;
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (vs.length === 0) return log ? [1, 10] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (log) {
    if (lo === hi) [lo, hi] = [lo / 2, hi * 2];
    const span = Math.log10(hi / lo);
    return [lo / 10 ** (0.06 * span + 0.02), hi * 10 ** (0.06 * span + 0.02)];
  }
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.06;
  return [lo >= 0 && lo - pad < 0 ? 0 : lo - pad, hi + pad];
}

/** Render a plot as a standalone SVG document. */
export function renderPlot(spec: PlotSpec): string {
  const log = spec.xScale === 'log';
  const legendW = 300;
  const left = 78;
  const top = spec.subtitle ? 78 : 58;
  const bottom = spec.note ? 86 : 64;
  const W = spec.width ?? 980;
  const legendRows = spec.series.length;
  const plotH = Math.max(380, legendRows * 20 + 20);
  const H = top + plotH + bottom;
  const plotW = W - left - legendW - 24;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p.y));
  const [x0, x1] = domainOf(xs, log, spec.xDomain);
  const [y0, y1] = domainOf(ys, false, spec.yDomain);
  const sx = (x: number) => left + (log ? Math.log10(x / x0) / Math.log10(x1 / x0) : (x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${left}" y="30" font-size="19" font-weight="bold" fill="#222">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text class="subtitle" x="${left}" y="54" font-size="13" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  // grid and ticks
  const xt = log ? logTicks(x0, x1) : niceTicks(x0, x1, 7);
  const yt = niceTicks(y0, y1, 6);
  out.push('<g class="grid" stroke="#e4e4e4" stroke-width="1">');
  for (const t of xt) out.push(`<line x1="${f(sx(t))}" y1="${top}" x2="${f(sx(t))}" y2="${top + plotH}"/>`);
  for (const t of yt) out.push(`<line x1="${left}" y1="${f(sy(t))}" x2="${left + plotW}" y2="${f(sy(t))}"/>`);
  out.push('</g>');
  out.push(`<rect x="${left}" y="${top}" width="${f(plotW)}" height="${plotH}" fill="none" stroke="#444" stroke-width="1"/>`);
  out.push('<g class="ticks" font-size="12" fill="#333">');
  for (const t of xt) out.push(`<text x="${f(sx(t))}" y="${top + plotH + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  for (const t of yt) out.push(`<text x="${left - 8}" y="${f(sy(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`);
  out.push('</g>');
  out.push(`<text class="x-label" x="${f(left + plotW / 2)}" y="${top + plotH + 44}" font-size="14" text-anchor="middle" fill="#222">${escapeXml(spec.xLabel)}${log ? ' (log scale)' : ''}</text>`);
  out.push(`<text class="y-label" transform="translate(${left - 50},${f(top + plotH / 2)}) rotate(-90)" font-size="14" text-anchor="middle" fill="#222">${escapeXml(spec.yLabel)}</text>`);
  if (spec.note) out.push(`<text class="note" x="${left}" y="${top + plotH + 70}" font-size="12" fill="#555">${escapeXml(spec.note)}</text>`);
  // series: lines first, then markers on top
  const styled = spec.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length]!,
    marker: s.marker ?? MARKERS[Math.floor(i / PALETTE.length) % MARKERS.length]!,
    pts: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!log || p.x > 0)).slice().sort((a, b) => a.x - b.x || a.y - b.y),
  }));
  out.push(`<g class="series" clip-path="none">`);
  for (const s of styled) {
    if ((s.line ?? s.pts.length > 1) && s.pts.length > 1) {
      const d = s.pts.map((p, i) => `${i ? 'L' : 'M'}${f(sx(p.x))},${f(sy(p.y))}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.dashed ? 1.6 : 2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''} opacity="0.85"/>`);
    }
  }
  for (const s of styled) {
    for (const p of s.pts) {
      out.push(markerSvg(s.marker, sx(p.x), sy(p.y), s.size ?? 5, s.color));
      if (p.label) out.push(`<text x="${f(sx(p.x) + 11)}" y="${f(sy(p.y) + 4)}" font-size="11" fill="${s.color}">${escapeXml(p.label)}</text>`);
    }
  }
  out.push('</g>');
  // legend
  const lx = left + plotW + 24;
  out.push(`<g class="legend" font-size="12" fill="#222">`);
  styled.forEach((s, i) => {
    const y = top + 10 + i * 20;
    if (s.line ?? s.points.length > 1) {
      out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 26}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    out.push(markerSvg(s.marker, lx + 13, y, s.size ?? 5, s.color));
    const name = s.name.length > 40 ? `${s.name.slice(0, 39)}…` : s.name;
    out.push(`<text class="legend-entry" x="${lx + 34}" y="${y + 4}">${escapeXml(name)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
