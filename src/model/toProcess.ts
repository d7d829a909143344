/**
 * WinEvent → ProcessEvent for Sysmon 1/5 and Security 4688/4689; undefined for every other event.
 * PLACEHOLDER (owner: formats). Keep the signature.
 */
import type { WinEvent } from './event.js';
import type { ProcessEvent } from './process.js';

export function toProcessEvent(_ev: WinEvent): ProcessEvent | undefined {
  return undefined;
}
