/**
 * The alert's process tree drawn with dagre's layered layout: ancestors above, the alerting process, its
 * children below. Each node shows image, PID and user, and a shortened command line (in full on hover and in
 * the list under the drawing). All labels are SVG text nodes.
 */
import { Graph, layout } from '@dagrejs/dagre';
import { arr, get, obj, str, type Doc } from '../api.js';
import { formatDuration, parseTime, visible } from '../format.js';
import { Time, X } from './common.js';

export interface TreeNode {
  key: string;
  role: 'ancestor' | 'process' | 'child';
  pid?: string;
  image?: string;
  commandLine?: string;
  user?: string;
  start?: string;
  end?: string;
  stillRunning?: boolean;
}

/** Nodes drawn at most (the alert document already bounds depth and children; this bounds the drawing). */
export const MAX_TREE_NODES = 60;
const NODE_W = 250;
const NODE_H = 62;

function nodeOf(d: Doc, role: TreeNode['role'], key: string): TreeNode {
  const n: TreeNode = { key, role };
  const set = (k: keyof TreeNode, v: string | undefined): void => {
    if (v !== undefined) (n as unknown as Record<string, unknown>)[k] = v;
  };
  set('pid', str(d['pid']));
  set('image', str(d['executable']) ?? str(d['name']));
  set('commandLine', str(d['command_line']));
  set('user', str(d['user']));
  set('start', str(d['start']));
  set('end', str(d['end']));
  return n;
}

/** Ancestors (farthest first), the process, then its children, from `procwatch.process_tree`. */
export function treeNodes(alert: Doc): TreeNode[] {
  const tree = obj(get(alert, 'procwatch.process_tree'));
  const nodes: TreeNode[] = [];
  const parents = arr(tree?.['parents']).map(obj).filter((p): p is Doc => p !== undefined);
  parents.reverse().forEach((p, i) => nodes.push(nodeOf(p, 'ancestor', `a${i}`)));
  const self = obj(tree?.['process']) ?? obj(get(alert, 'process')) ?? {};
  const me = nodeOf(self, 'process', 'p');
  me.image ??= str(get(alert, 'process.executable'));
  me.commandLine ??= str(get(alert, 'process.command_line'));
  const lifetime = obj(get(alert, 'procwatch.lifetime'));
  if (lifetime?.['still_running'] === true) me.stillRunning = true;
  if (!me.end && str(lifetime?.['end'])) me.end = str(lifetime?.['end'])!;
  nodes.push(me);
  arr(tree?.['children']).forEach((c, i) => {
    const d = obj(c);
    if (d) nodes.push(nodeOf(d, 'child', `c${i}`));
  });
  return nodes.slice(0, MAX_TREE_NODES);
}

function basename(p: string | undefined): string {
  if (!p) return '?';
  const i = Math.max(p.lastIndexOf('\\'), p.lastIndexOf('/'));
  return i >= 0 ? p.slice(i + 1) : p;
}

function shorten(s: string | undefined, n: number): string {
  if (!s) return '';
  const v = visible(s);
  return v.length > n ? `${v.slice(0, n - 1)}…` : v;
}

export function lifetimeOf(n: TreeNode): string {
  const a = parseTime(n.start);
  const b = parseTime(n.end);
  if (a !== undefined && b !== undefined) return formatDuration(b - a);
  if (n.stillRunning) return 'still running';
  return '';
}

export function ProcessTree({ alert }: { alert: Doc }) {
  const nodes = treeNodes(alert);
  const g = new Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 16, ranksep: 26, marginx: 4, marginy: 4 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.key, { width: NODE_W, height: NODE_H });
  const chain = nodes.filter((n) => n.role !== 'child');
  for (let i = 1; i < chain.length; i++) g.setEdge(chain[i - 1]!.key, chain[i]!.key);
  for (const n of nodes) if (n.role === 'child') g.setEdge('p', n.key);
  layout(g);
  const width = Math.ceil(g.graph().width ?? NODE_W);
  const height = Math.ceil(g.graph().height ?? NODE_H);
  return (
    <div class="tree">
      <div class="tree-scroll">
        <svg class="tree-svg" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="process tree">
          {g.edges().map((e) => {
            const pts = g.edge(e).points ?? [];
            const d = pts.map((p: { x: number; y: number }, i: number) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
            return <path class="tree-edge" d={d} />;
          })}
          {nodes.map((n) => {
            const p = g.node(n.key);
            const x = p.x - NODE_W / 2;
            const y = p.y - NODE_H / 2;
            return (
              <g class={`tree-node tree-${n.role}`} data-role={n.role}>
                <title>{visible(`${n.image ?? '?'}\n${n.commandLine ?? ''}`)}</title>
                <rect x={x} y={y} width={NODE_W} height={NODE_H} rx={5} />
                <text x={x + 8} y={y + 17} class="tree-image">
                  {shorten(basename(n.image), 28)}
                </text>
                <text x={x + 8} y={y + 34} class="tree-meta">
                  {shorten(`pid ${n.pid ?? '?'} · ${n.user ?? 'user ?'}${lifetimeOf(n) ? ` · ${lifetimeOf(n)}` : ''}`, 36)}
                </text>
                <text x={x + 8} y={y + 51} class="tree-cmd">
                  {shorten(n.commandLine, 33)}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      <ol class="tree-list">
        {nodes.map((n) => (
          <li class={`tree-item tree-${n.role}`}>
            <div class="tree-item-head">
              <span class="role">{n.role === 'process' ? 'this process' : n.role}</span> <X v={n.image} className="mono" /> {n.pid ? <span class="muted">pid {n.pid}</span> : null}
            </div>
            {n.commandLine ? (
              <pre class="cmdline">
                <X v={n.commandLine} />
              </pre>
            ) : null}
            <div class="tree-item-meta">
              {n.user ? (
                <span>
                  user <X v={n.user} />
                </span>
              ) : null}
              {n.start ? (
                <span>
                  start <Time v={n.start} />
                </span>
              ) : null}
              {n.end ? (
                <span>
                  end <Time v={n.end} />
                </span>
              ) : null}
              {lifetimeOf(n) ? <span>lifetime {lifetimeOf(n)}</span> : null}
            </div>
          </li>
        ))}
      </ol>
    </div>
  );
}
