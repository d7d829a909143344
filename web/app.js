// procwatch web console. Plain JS, no build step. Every string that comes from events (command lines, host
// and user names, rule text) is attacker-controlled: it only ever reaches the page through textContent or
// attribute setters, never through an HTML-parsing sink, and the server's CSP forbids inline script as a second line.
'use strict';

const state = {
  token: sessionStorage.getItem('procwatch.token') || '',
  view: 'alerts',
  offset: 0,
  limit: 50,
  total: 0,
  filters: {},
  selected: null,
  streamAbort: null,
  // What the token may do (GET /api/me); controls for other scopes are not shown.
  scopes: [],
};

const can = (scope) => state.scopes.includes(scope);

const $ = (sel) => document.querySelector(sel);

/** Element builder: el('td', {className: 'x'}, 'text', childNode...). Strings become text nodes. */
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function showError(msg) {
  const e = $('#error');
  e.textContent = msg;
  e.hidden = false;
  setTimeout(() => { e.hidden = true; }, 6000);
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { authorization: `Bearer ${state.token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) },
  });
  const body = res.status === 204 ? null : await res.json();
  // 403 for a missing scope keeps the session; an unknown token ends it.
  if (res.status === 401 || (res.status === 403 && body && body.error === 'invalid token')) {
    logout();
    throw new Error('token refused');
  }
  if (!res.ok) throw new Error((body && body.error) || `HTTP ${res.status}`);
  return body;
}

function get(obj, path) {
  return path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

function sevBadge(sev) {
  return el('span', { className: `sev sev-${/^[a-z]+$/.test(sev) ? sev : 'medium'}` }, sev || '');
}

// ---- lists -------------------------------------------------------------------------------------------

const COLUMNS = {
  alerts: [
    ['Time', (a) => a.time],
    ['Severity', (a) => sevBadge(a.severity)],
    ['Host', (a) => a.host],
    ['User', (a) => a.user || ''],
    ['Rule', (a) => get(a.alert, 'rule.name') || a.rule_id, 'rule'],
    ['Status', (a) => a.status + (a.suppressed ? ' (suppressed)' : '')],
    ['Command line', (a) => get(a.alert, 'process.command_line') || '', 'cmd'],
  ],
  incidents: [
    ['Last seen', (i) => i.last_seen],
    ['Severity', (i) => sevBadge(i.severity)],
    ['Host', (i) => i.host],
    ['Alerts', (i) => String(i.alert_count)],
    ['Status', (i) => i.status],
    ['Assignee', (i) => i.assignee || ''],
  ],
  actions: [
    ['Created', (a) => new Date(a.createdAt).toISOString()],
    ['Workflow', (a) => a.workflow],
    ['Kind', (a) => a.kind],
    ['Status', (a) => a.status + (a.dryRun ? ' (dry-run)' : '')],
    ['Attempts', (a) => `${a.attempts}/${a.maxAttempts}`],
    ['Alert', (a) => a.alertId],
  ],
};

async function loadList() {
  const params = new URLSearchParams({ limit: String(state.limit), offset: String(state.offset) });
  for (const [k, v] of Object.entries(state.filters)) if (v && state.view !== 'actions') params.set(k, v);
  const data = await api(`/api/${state.view}?${params}`);
  state.total = data.total;
  const cols = COLUMNS[state.view];
  $('#table thead').replaceChildren(el('tr', {}, ...cols.map(([h]) => el('th', {}, h))));
  $('#table tbody').replaceChildren(
    ...data.items.map((item) =>
      el(
        'tr',
        { dataset: { id: item.id }, onclick: () => openDetail(state.view, item.id), className: item.id === state.selected ? 'selected' : '' },
        ...cols.map(([, f, cls]) => {
          const v = f(item);
          return el('td', { className: cls || '', title: typeof v === 'string' ? v : '' }, v);
        }),
      ),
    ),
  );
  const last = Math.min(state.offset + state.limit, state.total);
  $('#page-info').textContent = state.total === 0 ? 'nothing yet' : `${state.offset + 1}–${last} of ${state.total}`;
  $('#prev').disabled = state.offset === 0;
  $('#next').disabled = last >= state.total;
  $('#new-alerts').hidden = true;
}

// ---- detail ------------------------------------------------------------------------------------------

function dl(pairs) {
  return el('dl', {}, ...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v === null || v === undefined ? '' : v)]));
}

function statusForm(kind, item) {
  if (!can('triage')) return null;
  const status = el('select', { name: 'status' }, ...['open', 'acknowledged', 'closed'].map((s) => el('option', { value: s, selected: s === item.status }, s)));
  const assignee = el('input', { name: 'assignee', value: item.assignee || '', size: 14 });
  const reason = el('input', { name: 'reason', placeholder: 'reason (required to close)', size: 30 });
  return el(
    'form',
    {
      className: 'status',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api(`/api/${kind}/${encodeURIComponent(item.id)}`, {
            method: 'PATCH',
            body: JSON.stringify({ status: status.value, assignee: assignee.value || null, reason: reason.value || undefined }),
          });
          await Promise.all([loadList(), openDetail(kind, item.id)]);
        } catch (err) {
          showError(err.message);
        }
      },
    },
    el('label', {}, 'Status ', status),
    el('label', {}, 'Assignee ', assignee),
    el('label', {}, 'Reason ', reason),
    el('button', { type: 'submit' }, 'Save'),
  );
}

function actionRow(a) {
  const buttons = [];
  if (a.status === 'pending_approval' && can('respond')) {
    for (const verb of ['approve', 'reject']) {
      buttons.push(
        el('button', {
          type: 'button',
          onclick: async () => {
            const reason = prompt(`Reason to ${verb} ${a.workflow}?`) || undefined;
            try {
              await api(`/api/actions/${encodeURIComponent(a.id)}/${verb}`, { method: 'POST', body: JSON.stringify({ reason }) });
              if (state.selected) await openDetail(state.view, state.selected);
            } catch (err) {
              showError(err.message);
            }
          },
        }, verb),
      );
    }
  }
  const preview = get(a.request, 'remediation.powershell');
  return el(
    'li',
    {},
    `${a.workflow} (${a.kind}) — ${a.status}${a.dryRun ? ' [dry-run]' : ''}, attempts ${a.attempts}/${a.maxAttempts}`,
    a.lastError ? el('div', {}, `last error: ${a.lastError}`) : null,
    preview ? el('pre', {}, preview) : null,
    ...buttons,
  );
}

async function openDetail(kind, id) {
  state.selected = id;
  for (const tr of document.querySelectorAll('#table tbody tr')) tr.classList.toggle('selected', tr.dataset.id === id);
  const box = $('#detail');
  box.hidden = false;
  try {
    const item = await api(`/api/${kind}/${encodeURIComponent(id)}`);
    if (kind === 'alerts') {
      const d = item.alert;
      box.replaceChildren(
        el('h2', {}, get(d, 'rule.name') || item.rule_id),
        dl([
          ['Severity', sevBadge(item.severity)],
          ['Reason', get(d, 'procwatch.reason')],
          ['Time', item.time],
          ['Host', item.host],
          ['User', item.user],
          ['Image', get(d, 'process.executable')],
          ['PID', get(d, 'process.pid')],
          ['Parent', get(d, 'process.parent.executable')],
          ['Incident', item.incident_id],
          ['Status', `${item.status}${item.assignee ? ` — ${item.assignee}` : ''}${item.status_reason ? ` (${item.status_reason})` : ''}`],
          ['Matched rules', (get(d, 'procwatch.matched_rules') || []).join(', ')],
        ]),
        el('h3', {}, 'Command line'),
        el('pre', {}, get(d, 'process.command_line') || ''),
        statusForm('alerts', item),
        el('h3', {}, 'Response actions'),
        el('ul', {}, ...item.actions.map(actionRow)),
        el('h3', {}, 'Audit'),
        el('ul', {}, ...item.audit.map((e) => el('li', {}, `${new Date(e.time).toISOString()} ${e.actor} ${e.action} ${JSON.stringify(e.detail)}`))),
        el('h3', {}, 'Alert document'),
        el('pre', {}, JSON.stringify(d, null, 2)),
      );
    } else if (kind === 'incidents') {
      box.replaceChildren(
        el('h2', {}, `Incident ${item.id}`),
        dl([
          ['Severity', sevBadge(item.severity)],
          ['Host', item.host],
          ['First seen', item.first_seen],
          ['Last seen', item.last_seen],
          ['Alerts', String(item.alert_count)],
          ['Status', `${item.status}${item.assignee ? ` — ${item.assignee}` : ''}`],
        ]),
        statusForm('incidents', item),
        el('h3', {}, 'Alerts'),
        el('ul', {}, ...item.alerts.map((a) => el('li', {}, `${a.time} ${a.severity} ${get(a.alert, 'process.command_line') || a.rule_id}`))),
      );
    } else {
      box.replaceChildren(el('h2', {}, `Action ${item.workflow}`), el('ul', {}, actionRow(item)), el('pre', {}, JSON.stringify(item, null, 2)));
    }
  } catch (err) {
    showError(err.message);
  }
}

// At most one list refresh per second however fast alerts arrive.
let reloadTimer = null;
function scheduleReload() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    loadList().catch((e) => showError(e.message));
  }, 1000);
}

// ---- live stream (fetch + SSE parsing, so the token travels in a header, not in the URL) -------------

async function stream() {
  if (state.streamAbort) state.streamAbort.abort();
  const ctl = new AbortController();
  state.streamAbort = ctl;
  const live = $('#live');
  try {
    const res = await fetch('/api/stream', { headers: { authorization: `Bearer ${state.token}` }, signal: ctl.signal });
    if (!res.ok || !res.body) throw new Error(`stream HTTP ${res.status}`);
    live.textContent = 'live: on';
    live.className = 'live on';
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
        const ev = /^event: (.*)$/m.exec(block);
        if (ev && ev[1] === 'alert' && state.view === 'alerts') {
          if (state.offset === 0) scheduleReload();
          else $('#new-alerts').hidden = false;
        }
        // Later events completed an alert (termination, children, evidence): refresh it if it is open.
        const id = /^id: (.*)$/m.exec(block);
        if (ev && ev[1] === 'alert-updated' && id && state.view === 'alerts' && state.selected === id[1]) {
          openDetail('alerts', id[1]).catch((e) => showError(e.message));
        }
      }
    }
  } catch (err) {
    if (ctl.signal.aborted) return;
  }
  live.textContent = 'live: off';
  live.className = 'live off';
  setTimeout(() => { if (state.token && state.streamAbort === ctl) stream(); }, 3000);
}

// ---- wiring ------------------------------------------------------------------------------------------

function setView(view) {
  state.view = view;
  state.offset = 0;
  state.selected = null;
  $('#detail').hidden = true;
  $('#filters').hidden = view === 'actions';
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.view === view);
  loadList().catch((e) => showError(e.message));
}

function logout() {
  sessionStorage.removeItem('procwatch.token');
  state.token = '';
  if (state.streamAbort) state.streamAbort.abort();
  $('#main').hidden = true;
  $('#login').hidden = false;
}

async function start() {
  try {
    state.scopes = (await api('/api/me')).scopes || [];
  } catch (err) {
    showError(err.message);
    return;
  }
  $('#login').hidden = true;
  $('#main').hidden = false;
  const m = /^#(alerts|incidents|actions)\/(.+)$/.exec(location.hash);
  setView(m ? m[1] : 'alerts');
  if (m) openDetail(m[1], decodeURIComponent(m[2]));
  stream();
}

document.addEventListener('DOMContentLoaded', () => {
  for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => setView(b.dataset.view));
  $('#login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('#token').value.trim();
    sessionStorage.setItem('procwatch.token', state.token);
    start();
  });
  $('#logout').addEventListener('click', logout);
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    state.filters = { status: f.get('status'), severity: f.get('severity'), host: f.get('host') };
    state.offset = 0;
    loadList().catch((err) => showError(err.message));
  });
  $('#prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - state.limit); loadList().catch((e) => showError(e.message)); });
  $('#next').addEventListener('click', () => { state.offset += state.limit; loadList().catch((e) => showError(e.message)); });
  $('#show-new').addEventListener('click', () => { state.offset = 0; loadList().catch((e) => showError(e.message)); });
  if (state.token) start();
  else $('#login').hidden = false;
});
