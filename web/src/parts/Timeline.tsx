/**
 * A small timeline: one lane per kind, a mark per item at its time, the first and last time under the axis.
 * Marks with a link are SVG anchors to in-console routes (never an event-supplied URL).
 */
import { formatTime, useZone, visible } from '../format.js';
import { useWidth } from './useWidth.js';

export interface TimelineItem {
  ms: number;
  lane: string;
  label: string;
  /** An in-console route (#/...) to open when the mark is clicked. */
  route?: string;
  cls?: string;
}

/** Marks drawn at most; the lists beside the timeline say how many there are. */
export const MAX_TIMELINE_ITEMS = 500;
const LANE_H = 26;
const LABEL_W = 84;

export function Timeline({ items, lanes, label }: { items: TimelineItem[]; lanes: string[]; label: string }) {
  const zone = useZone();
  const [ref, width] = useWidth<HTMLDivElement>();
  const shown = items.slice(0, MAX_TIMELINE_ITEMS);
  const times = shown.map((i) => i.ms);
  const min = times.length ? Math.min(...times) : 0;
  const max = times.length ? Math.max(...times) : 1;
  const span = Math.max(1, max - min);
  const w = Math.max(200, width);
  const plotW = w - LABEL_W - 12;
  const h = lanes.length * LANE_H + 34;
  const x = (ms: number): number => LABEL_W + (span === 1 && max === min ? plotW / 2 : ((ms - min) / span) * plotW);
  return (
    <div class="timeline" ref={ref}>
      {width > 0 ? (
        <svg width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label}>
          {lanes.map((lane, i) => (
            <g>
              <text class="tl-lane" x={4} y={i * LANE_H + 17}>
                {lane}
              </text>
              <line class="tl-grid" x1={LABEL_W} x2={w - 12} y1={i * LANE_H + 13} y2={i * LANE_H + 13} />
            </g>
          ))}
          {shown.map((it) => {
            const lane = Math.max(0, lanes.indexOf(it.lane));
            const mark = (
              <circle class={`tl-mark ${it.cls ?? ''}`} cx={x(it.ms)} cy={lane * LANE_H + 13} r={6}>
                <title>{visible(`${formatTime(it.ms, zone)} ${it.label}`)}</title>
              </circle>
            );
            return it.route ? <a href={it.route}>{mark}</a> : mark;
          })}
          <text class="tl-axis" x={LABEL_W} y={h - 20}>
            {formatTime(min, zone)}
          </text>
          {max !== min ? (
            <text class="tl-axis" x={w - 12} y={h - 6} text-anchor="end">
              {formatTime(max, zone)}
            </text>
          ) : null}
        </svg>
      ) : null}
    </div>
  );
}
