/**
 * The live alert stream (/api/stream, Server-Sent Events read through fetch so the token stays in a header).
 * New alerts are counted, not inserted: the analyst refreshes when ready, so a list never jumps under the
 * cursor. Reconnects every 3 s after a drop.
 */
import { useEffect, useState } from 'preact/hooks';
import { savedToken } from './api.js';

const RETRY_MS = 3000;
/** Bytes of an unfinished SSE block kept at most (a block is one small JSON alert view). */
const MAX_PENDING_CHARS = 4 * 1024 * 1024;

export function useLive(counting: boolean): { on: boolean; fresh: number; seen: () => void } {
  const [on, setOn] = useState(false);
  const [fresh, setFresh] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = async (): Promise<void> => {
      try {
        const res = await fetch('/api/stream', { headers: { authorization: `Bearer ${savedToken()}` }, signal: ctl.signal });
        if (!res.ok || !res.body) throw new Error(`stream HTTP ${res.status}`);
        setOn(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            if (/^event: alert$/m.test(block)) setFresh((n) => n + 1);
          }
          if (buf.length > MAX_PENDING_CHARS) buf = '';
        }
      } catch (err) {
        // A dropped or refused stream: shown as offline and retried below, unless the page is leaving.
        if (ctl.signal.aborted) return;
        void err;
      }
      setOn(false);
      if (!ctl.signal.aborted) timer = setTimeout(() => void connect(), RETRY_MS);
    };
    void connect();
    return () => {
      ctl.abort();
      if (timer) clearTimeout(timer);
    };
  }, []);
  return { on, fresh: counting ? fresh : 0, seen: () => setFresh(0) };
}
