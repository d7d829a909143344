/**
 * Syslog forwarding: RFC 5424 messages over TCP or TLS with octet-counting framing (RFC 6587 §3.4.1, RFC 5425
 * §4.3: `MSG-LEN SP SYSLOG-MSG`). One connection per destination, opened on demand and re-opened after an
 * error. A frame counts as delivered once the kernel took it (syslog over TCP has no application-level ack).
 */
import { hostname as osHostname } from 'node:os';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Severity } from '../model/alert.js';
import type { ForwardTls, SyslogOptions } from './config.js';
import type { Delivery, ForwardItem } from './types.js';

/** Private SD-ID: `name@<private enterprise number>`; 32473 is the number RFC 5612 reserves for documentation. */
export const SD_ID = 'procwatch@32473';
/**
 * Each escaped SD-PARAM value is cut to this many bytes, so header and structured data always fit the smallest
 * message limit (2048): 4 values of 256 bytes, names, a 255-byte HOSTNAME and the rest stay under 1600 bytes.
 */
const MAX_PARAM_BYTES = 256;

/** Syslog severity (RFC 5424 table 2) of an alert severity. */
const SYSLOG_SEVERITY: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 5, informational: 6 };

export interface SyslogFields {
  alertId: string;
  ruleId: string;
  severity: Severity;
  host: string;
  /** Whether this is the alert's first forwarding or a later state of it. */
  update: boolean;
  /** The MSG part (the ECS alert JSON). */
  msg: string;
}

/** `\`, `"` and `]` are the characters RFC 5424 §6.3.3 requires escaping inside PARAM-VALUE. */
export function escapeParamValue(v: string): string {
  return v.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** The escaped value, whole characters (and whole escapes) only, at most MAX_PARAM_BYTES bytes. */
function paramValue(v: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of v) {
    const esc = escapeParamValue(ch);
    bytes += Buffer.byteLength(esc, 'utf8');
    if (bytes > MAX_PARAM_BYTES) break;
    out += esc;
  }
  return out;
}

/** A header field (HOSTNAME etc.): printable US-ASCII, no spaces, at most `max` characters; `-` when empty. */
function headerField(v: string, max: number): string {
  const clean = v.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** The RFC 5424 message (without framing), MSG cut at a UTF-8 boundary to keep the whole within maxBytes. */
export function formatSyslog(f: SyslogFields, o: Pick<SyslogOptions, 'facility' | 'appName' | 'hostname' | 'maxMessageBytes'>, now = new Date()): Buffer {
  const pri = o.facility * 8 + SYSLOG_SEVERITY[f.severity];
  const header = `<${pri}>1 ${now.toISOString()} ${headerField(o.hostname ?? osHostname(), 255)} ${headerField(o.appName, 48)} ${process.pid} ${f.update ? 'alert-updated' : 'alert'} `;
  const sd = (truncated: boolean): string => {
    const params: [string, string][] = [
      ['alert_id', f.alertId],
      ['rule', f.ruleId],
      ['severity', f.severity],
      ['host', f.host],
    ];
    if (truncated) params.push(['truncated', 'true']);
    return `[${SD_ID}${params.map(([k, v]) => ` ${k}="${paramValue(v)}"`).join('')}]`;
  };
  const msg = Buffer.from(f.msg, 'utf8');
  const whole = Buffer.from(`${header}${sd(false)} `, 'utf8');
  if (whole.length + msg.length <= o.maxMessageBytes) return Buffer.concat([whole, msg]);
  const prefix = Buffer.from(`${header}${sd(true)} `, 'utf8');
  return Buffer.concat([prefix, utf8Prefix(msg, Math.max(0, o.maxMessageBytes - prefix.length))]);
}

/** The first bytes of a UTF-8 buffer, at most `max`, never splitting a character. */
function utf8Prefix(b: Buffer, max: number): Buffer {
  if (b.length <= max) return b;
  let end = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the character that would be cut.
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/** Octet-counting framing: the byte length, a space, the message. */
export function frame(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

export class SyslogSender implements Delivery {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;

  constructor(
    private readonly o: SyslogOptions,
    private readonly tls: ForwardTls | undefined,
    private readonly timeoutMs: number,
  ) {}

  async deliver(item: ForwardItem): Promise<{ ok: true } | { ok: false; final: boolean; error: string }> {
    const message = formatSyslog(
      { alertId: item.alertId, ruleId: item.ruleId, severity: item.severity, host: item.host, update: item.update, msg: JSON.stringify(item.doc) },
      this.o,
    );
    try {
      const socket = await this.open();
      await this.write(socket, frame(message));
      return { ok: true };
    } catch (err) {
      this.reset();
      return { ok: false, final: false, error: `${this.o.transport}://${this.o.host}:${this.o.port}: ${(err as Error).message}` };
    }
  }

  /** Ends the connection cleanly (a TLS close_notify, so the receiver logs no error). */
  close(): void {
    const s = this.socket;
    this.socket = undefined;
    this.connecting = undefined;
    s?.end();
  }

  private reset(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.connecting = undefined;
  }

  private open(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const onReady = (): void => {
        s.setTimeout(0);
        s.off('error', reject);
        // Later errors (peer reset) only drop the connection; the next attempt reconnects.
        s.on('error', () => this.socket === s && this.reset());
        s.on('close', () => this.socket === s && this.reset());
        // An idle connection must not keep the process alive at shutdown.
        s.unref();
        this.socket = s;
        resolve(s);
      };
      const s =
        this.o.transport === 'tls'
          ? tlsConnect(
              {
                host: this.o.host,
                port: this.o.port,
                servername: this.tls?.serverName ?? (isIp(this.o.host) ? undefined : this.o.host),
                rejectUnauthorized: this.tls?.verify ?? true,
                ...(this.tls?.ca ? { ca: this.tls.ca } : {}),
                ...(this.tls?.cert ? { cert: this.tls.cert, key: this.tls.key } : {}),
              },
              onReady,
            )
          : tcpConnect({ host: this.o.host, port: this.o.port }, onReady);
      s.setTimeout(this.timeoutMs, () => s.destroy(new Error(`connect timed out after ${this.timeoutMs} ms`)));
      s.once('error', reject);
    });
    return this.connecting;
  }

  /** Resolves when the frame is handed to the kernel; a peer that stops reading times the attempt out. */
  private write(socket: Socket, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`write timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.write(data, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
