// Keeps docs/benchmarks.md in step with `npm run bench`: each benchmark that ran gets its section in the
// generated part of the document replaced by what it printed, under a line naming the date and the machine.
// Sections of benchmarks that did not run are kept as they were (a subset run refreshes only its own).
import os from 'node:os';

export const BEGIN = '<!-- bench:begin (written by `npm run bench`; edit above this line) -->';
export const END = '<!-- bench:end -->';

/** One line naming the machine: cores × model, memory, Node version, load average at the time. */
export function machineLine() {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  return `${cpus.length} × ${cpus[0]?.model?.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; load average ${load}`;
}

/** Terminal colour codes and carriage-return progress lines would garble the Markdown. */
function cleanOutput(text) {
  return text
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    .split('\n')
    .map((line) => line.slice(line.lastIndexOf('\r') + 1).trimEnd())
    .join('\n')
    .trim()
    .replace(/```/g, "'''")
    .replace(/^###/gm, ' ###');
}

/** The Markdown section of one benchmark run. */
export function renderSection(result) {
  const when = result.date.toISOString().slice(0, 16).replace('T', ' ');
  const status = result.status === 0 ? '' : ` — exited with ${result.status}, figures may be incomplete`;
  return [`### ${result.name}`, '', `Run ${when} UTC on ${result.machine}${status}.`, '', '```', cleanOutput(result.output), '```'].join('\n');
}

/** Splits the generated part into sections keyed by benchmark file name. */
function parseSections(generated) {
  const sections = new Map();
  const parts = generated.split(/^(?=### )/m);
  for (const part of parts) {
    const m = /^### (\S+)/.exec(part);
    if (m) sections.set(m[1], part.trim());
  }
  return sections;
}

/**
 * Returns the document with the given results' sections replaced (or added), the others kept, in name order.
 * A document without the markers gets the generated part appended under a "Latest runs" heading.
 */
export function updateBenchmarksDoc(doc, results) {
  let head = doc;
  let generated = '';
  let tail = '';
  const b = doc.indexOf(BEGIN);
  const e = doc.indexOf(END);
  if (b >= 0 && e > b) {
    head = doc.slice(0, b);
    generated = doc.slice(b + BEGIN.length, e);
    tail = doc.slice(e + END.length);
  } else {
    head = `${doc.trimEnd()}\n\n## Latest runs\n\nWhat each benchmark printed the last time \`npm run bench\` ran it, with the date and the machine.\n\n`;
  }
  const sections = parseSections(generated);
  for (const r of results) sections.set(r.name, renderSection(r));
  const body = [...sections.keys()].sort().map((k) => sections.get(k)).join('\n\n');
  return `${head}${BEGIN}\n\n${body}${body ? '\n\n' : ''}${END}${tail.length > 0 ? tail : '\n'}`;
}
