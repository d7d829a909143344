/**
 * Alerts over time by severity, as stacked bars (uPlot). A click on a bar opens the alert list for that time
 * bucket. Severities are stacked by drawing cumulative totals, most severe (the total) first.
 */
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';
import type { Stats } from '../api.js';
import { formatTime, useZone } from '../format.js';
import { useWidth } from './useWidth.js';

export const STACK = ['critical', 'high', 'medium', 'low', 'informational'] as const;
const COLORS: Record<string, string> = { critical: '#7d0a0a', high: '#d1421b', medium: '#e8a317', low: '#8aa1b8', informational: '#cfd6de' };

export function TimeChart({ stats, onPick }: { stats: Stats; onPick: (startMs: number, endMs: number) => void }) {
  const zone = useZone();
  const [box, width] = useWidth<HTMLDivElement>();
  const plotEl = useRef<HTMLDivElement>(null);
  const pick = useRef(onPick);
  pick.current = onPick;
  const { start, counts, width_ms } = stats.buckets;

  useEffect(() => {
    if (!plotEl.current || width === 0 || start.length === 0) return undefined;
    const xs = start.map((s) => Date.parse(s) / 1000 + width_ms / 2000);
    // Cumulative from the least severe up: series i holds the sum of STACK[i..].
    const cum = STACK.map((_, i) => xs.map((_x, j) => STACK.slice(i).reduce((sum, s) => sum + (counts[s]?.[j] ?? 0), 0)));
    const bars = uPlot.paths.bars!({ size: [0.85, 60], align: 0 });
    const opts: uPlot.Options = {
      width,
      height: 220,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: { x: { time: true, range: (_u, lo, hi) => [lo - width_ms / 2000, hi + width_ms / 2000] }, y: { range: (_u, _lo, hi) => [0, Math.max(1, hi)] } },
      // Tick labels in the console's one time format (month-day hour:minute), in the zone chosen.
      axes: [
        { stroke: '#5b6673', grid: { show: false }, space: 110, values: (_u, ticks) => ticks.map((t) => formatTime(t * 1000, zone).slice(5, 16)) },
        { stroke: '#5b6673', size: 40 },
      ],
      ...(zone === 'utc' ? { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') } : {}),
      series: [{}, ...STACK.map((s) => ({ label: s, fill: COLORS[s], stroke: COLORS[s], width: 0, paths: bars, points: { show: false } }))],
    };
    const u = new uPlot(opts, [xs, ...cum] as uPlot.AlignedData, plotEl.current);
    const click = (): void => {
      const i = u.cursor.idx;
      if (i === null || i === undefined) return;
      const t0 = Date.parse(start[i]!);
      pick.current(t0, t0 + width_ms - 1);
    };
    u.over.addEventListener('click', click);
    return () => {
      u.over.removeEventListener('click', click);
      u.destroy();
    };
  }, [width, stats, zone]);

  return (
    <div class="chart" ref={box}>
      <div ref={plotEl} class="chart-plot" />
      <ul class="chart-legend">
        {STACK.map((s) => (
          <li>
            <span class={`swatch sev-${s}`} /> {s} {stats.by_severity[s] ?? 0}
          </li>
        ))}
      </ul>
    </div>
  );
}
