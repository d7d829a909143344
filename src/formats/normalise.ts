/**
 * Small value normalisers shared by every dialect: timestamps to ISO UTC, integers from decimal/hex strings,
 * GUIDs, field values. Written for the hot path: fast checks first, a regex only on unusual input.
 */
import type { DecodeError, EventOrigin, FieldValue, Scalar } from '../model/event.js';

/** Largest number of fractional-second digits the model keeps (Windows FILETIME resolution: 100 ns). */
const MAX_FRACTION_DIGITS = 7;

const GENERAL_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$/i;
const DOTNET_DATE = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/;

/**
 * Any timestamp a dialect writes → 'YYYY-MM-DDThh:mm:ss[.f{1,7}]Z'.
 * Strings without a zone are taken as UTC (evtx tools and python-evtx write UTC without a zone).
 * Numbers are epoch seconds (Splunk HEC `time`) or, when very large, epoch milliseconds.
 */
export function normaliseTime(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? epochToIso(value) : undefined;
  if (typeof value !== 'string' || value.length < 19) return undefined;
  if (isCanonicalIso(value)) return trimFraction(value);
  const m = GENERAL_TIME.exec(value.trim());
  if (m === null) {
    const d = DOTNET_DATE.exec(value);
    return d === null ? undefined : epochToIso(Number(d[1]) / 1000);
  }
  const [, y, mo, da, h, mi, s, frac, zone] = m;
  if (+mo! < 1 || +mo! > 12 || +da! < 1 || +da! > 31 || +h! > 23 || +mi! > 59 || +s! > 60) return undefined;
  let ms = Date.UTC(+y!, +mo! - 1, +da!, +h!, +mi!, +s!);
  if (Number.isNaN(ms)) return undefined;
  if (zone !== undefined && zone.length > 3 && (zone[0] === '+' || zone[0] === '-')) {
    const digits = zone.replace(':', '');
    const offsetMin = (+digits.slice(1, 3) * 60 + +digits.slice(3, 5)) * (zone[0] === '-' ? -1 : 1);
    ms -= offsetMin * 60_000;
  }
  const base = new Date(ms).toISOString().slice(0, 19);
  return frac ? `${base}.${frac.slice(0, MAX_FRACTION_DIGITS)}Z` : `${base}Z`;
}

function epochToIso(seconds: number): string | undefined {
  const ms = Math.abs(seconds) >= 1e11 ? seconds : seconds * 1000;
  const d = new Date(Math.round(ms));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** 'YYYY-MM-DDThh:mm:ss' + optional '.digits' + 'Z' with valid ranges, checked by character codes (no regex on the hot path). */
function isCanonicalIso(s: string): boolean {
  const n = s.length;
  if (s.charCodeAt(n - 1) !== 90 /* Z */ || s.charCodeAt(10) !== 84 /* T */) return false;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  const year = num4(s, 0);
  const month = num2(s, 5);
  const day = num2(s, 8);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31) return false;
  const hour = num2(s, 11);
  const minute = num2(s, 14);
  const second = num2(s, 17);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return false;
  if (n === 20) return true;
  if (s.charCodeAt(19) !== 46 /* . */ || n < 22) return false;
  for (let i = 20; i < n - 1; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Two decimal digits at `at` as a number, or -1. */
function num2(s: string, at: number): number {
  const a = s.charCodeAt(at) - 48;
  const b = s.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function num4(s: string, at: number): number {
  const hi = num2(s, at);
  const lo = num2(s, at + 2);
  return hi < 0 || lo < 0 ? -1 : hi * 100 + lo;
}

function trimFraction(s: string): string {
  // 'YYYY-MM-DDThh:mm:ss.' is 20 characters; the Z is last.
  return s.length - 21 > MAX_FRACTION_DIGITS ? `${s.slice(0, 20 + MAX_FRACTION_DIGITS)}Z` : s;
}

/** 3316, '3316', '0xcf4', '0XCF4' → number; anything else → undefined. */
export function toInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value !== 'string' || value.length === 0) return undefined;
  let n: number;
  if (value.length > 2 && value.charCodeAt(0) === 48 && (value.charCodeAt(1) | 0x20) === 120) {
    n = parseInt(value.slice(2), 16);
  } else {
    n = Number(value);
  }
  return Number.isInteger(n) ? n : undefined;
}

/** Number → '0x…' as Windows renders hex fields (NewProcessId, ProcessId in 4688, Keywords). */
export function toHex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Keywords: keep hex strings; a signed 64-bit number (NXLog CE writes -9223372036854775808) → '0x8000000000000000'. */
export function normaliseKeywords(value: unknown): string | undefined {
  if (typeof value === 'string') return value.startsWith('0x') || value.startsWith('0X') ? value : undefined;
  if (typeof value === 'number' && Number.isInteger(value)) {
    let big = BigInt(value);
    if (big < 0n) big += 1n << 64n;
    return `0x${big.toString(16)}`;
  }
  return undefined;
}

/** A GUID with or without braces → '{UPPER-CASE}', the way Windows renders System GUIDs. */
export function normaliseGuid(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const bare = value.charCodeAt(0) === 123 ? value.slice(1, -1) : value;
  return `{${bare.toUpperCase()}}`;
}

/** True for a bare 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx' GUID (evtx_dump renders GUID values without braces). */
export function isBareGuid(s: string): boolean {
  if (s.length !== 36) return false;
  if (s.charCodeAt(8) !== 45 || s.charCodeAt(13) !== 45 || s.charCodeAt(18) !== 45 || s.charCodeAt(23) !== 45) return false;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * A JSON value of an EventData field → the model's FieldValue. Event logs render every value as text, so numbers
 * and booleans become their text (the same event then looks the same from every dialect); null becomes ''.
 * Objects (nested UserData) are not field values: undefined.
 */
export function toFieldValue(value: unknown): FieldValue | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      if (value === null) return '';
      if (Array.isArray(value)) {
        const out: Scalar[] = [];
        for (const v of value) {
          // An array inside the array is no scalar (it was always dropped): not descended into, so input depth
          // never reaches the stack.
          if (typeof v === 'object' && v !== null) continue;
          const s = toFieldValue(v);
          if (typeof s === 'string') out.push(s);
        }
        return out;
      }
      return undefined;
    default:
      return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** A DecodeError located where the document is (file, line, index). */
export function errorAt(origin: EventOrigin, reason: string): DecodeError {
  const e: DecodeError = { file: origin.file, reason };
  if (origin.line !== undefined) e.line = origin.line;
  if (origin.index !== undefined) e.index = origin.index;
  return e;
}
