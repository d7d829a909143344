/**
 * One way to show times (millisecond precision, UTC by default, local on request) and attacker-controlled text
 * made safe to read: Preact renders it as text (never HTML), and invisible direction/format controls are
 * shown as ⟨U+202E⟩ so a right-to-left override cannot disguise a command line or a file name.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export type Zone = 'utc' | 'local';
export const ZoneContext = createContext<Zone>('utc');
export function useZone(): Zone {
  return useContext(ZoneContext);
}

/** Milliseconds since the epoch of an ISO time of any fraction length (Windows writes 7 digits). */
export function parseTime(iso: string | undefined | null): number | undefined {
  if (!iso) return undefined;
  const cut = iso.replace(/(\.\d{3})\d+/, '$1');
  const t = Date.parse(cut);
  return Number.isFinite(t) ? t : undefined;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `2024-05-01 10:15:30.123Z` (UTC) or `2024-05-01 12:15:30.123 +02:00` (local). */
export function formatTime(ms: number | undefined, zone: Zone): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  if (zone === 'utc') {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
  }
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const tz = `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} ${tz}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(3)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}

// Direction overrides/isolates/marks, zero-width characters, and other C0/C1 controls except tab and newline.
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;

/** The text with invisible controls made visible. */
export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}
