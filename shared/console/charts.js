// Charts drawn as SVG through DOM calls (no library). Each is an <svg role="img"> with a <title> and <desc> for
// screen readers, each bar carries its own <title> (a tooltip), and the analytics page puts the same numbers in a
// table beside it. Colours come from console.css classes. Sizes are in CSS pixels of the given width, so labels
// keep their size on a phone.
import { num, svg as s } from './dom.js';

let seq = 0;
function frame(width, height, title, desc, cls) {
  const tid = `chart-t-${++seq}`;
  const did = `chart-d-${seq}`;
  return s('svg', { class: `chart ${cls || ''}`, width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': `${tid} ${did}` }, s('title', { id: tid }, title), s('desc', { id: did }, desc));
}

// An axis step of 1, 2 or 5 × 10^n giving about `ticks` steps up to max (whole numbers only when `whole`).
function axis(max, ticks, whole) {
  const raw = Math.max(max, whole ? 1 : 1e-9) / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map(m => m * p).find(v => v >= raw);
  if (whole) step = Math.max(1, Math.round(step));
  return { step, top: step * Math.max(1, Math.ceil(max / step)) };
}

// Vertical bars, one per point {label, value, tip}; labels along the bottom are thinned to fit.
export function columns({ points, width, height = 220, title, desc, format = num, cls }) {
  const m = { top: 14, right: 10, bottom: 34, left: 56 };
  const w = Math.max(260, Math.floor(width));
  const plotW = w - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = Math.max(0, ...points.map(p => p.value || 0));
  const { step, top } = axis(max, 4, points.every(p => Number.isInteger(p.value || 0)));
  const svg = frame(w, height, title, desc, cls);
  const y = v => m.top + plotH - (v / top) * plotH;
  for (let i = 0; i * step <= top + step / 2; i++) {
    const v = Number((i * step).toPrecision(12));
    svg.append(s('line', { class: 'grid', x1: m.left, x2: w - m.right, y1: y(v), y2: y(v) }),
      s('text', { class: 'tick', x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  const band = plotW / Math.max(1, points.length);
  const every = Math.ceil(points.length / Math.max(1, Math.floor(plotW / 64)));
  points.forEach((p, i) => {
    const x = m.left + i * band;
    const hgt = ((p.value || 0) / top) * plotH;
    svg.append(s('rect', { class: 'bar', x: x + band * 0.15, width: Math.max(1, band * 0.7), y: y(0) - hgt, height: hgt },
      s('title', {}, p.tip || `${p.label}: ${format(p.value)}`)));
    if (i % every === 0) {
      svg.append(s('text', { class: 'tick', x: x + band / 2, y: height - m.bottom + 18, 'text-anchor': 'middle' }, p.label));
    }
  });
  svg.append(s('line', { class: 'axis', x1: m.left, x2: w - m.right, y1: y(0), y2: y(0) }));
  return svg;
}

// Horizontal bars in groups: each row {label, bars: [{name, value, cls}]}, the label above its bars and each
// bar's value at its end. `legend`: [{name, cls}].
export function barRows({ rows, width, title, desc, legend = [], format = num }) {
  const w = Math.max(260, Math.floor(width));
  const barH = 14;
  const gap = 4;
  const left = 4;
  const right = 70;  // room for the value after the longest bar
  const legendH = legend.length ? 24 : 0;
  const rowH = r => 20 + r.bars.length * (barH + gap) + 10;
  const height = legendH + rows.reduce((a, r) => a + rowH(r), 0) + 4;
  const max = Math.max(1, ...rows.flatMap(r => r.bars.map(b => b.value || 0)));
  const svg = frame(w, height, title, desc, 'rows');
  let x = left;
  for (const l of legend) {
    svg.append(s('rect', { class: `bar ${l.cls}`, x, y: 4, width: 12, height: 12 }),
      s('text', { class: 'tick', x: x + 16, y: 14 }, l.name));
    x += 24 + l.name.length * 7;
  }
  let y = legendH;
  for (const r of rows) {
    svg.append(s('text', { class: 'label', x: left, y: y + 14 }, r.label));
    let by = y + 20;
    for (const b of r.bars) {
      const bw = Math.max(1, ((b.value || 0) / max) * (w - left - right));
      svg.append(s('rect', { class: `bar ${b.cls || ''}`, x: left, y: by, width: bw, height: barH },
        s('title', {}, `${r.label} — ${b.name}: ${format(b.value)}`)),
      s('text', { class: 'tick', x: left + bw + 6, y: by + barH - 3 }, format(b.value)));
      by += barH + gap;
    }
    y += rowH(r);
  }
  return svg;
}
