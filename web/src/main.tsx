/**
 * procwatch console: sign-in, then overview, alerts (search), alert detail, incidents and actions, under hash
 * routes. Event text reaches the page only as Preact text children (never an HTML-parsing sink), and the
 * server's CSP (script-src 'self', no inline style or script) is the second line.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { api, forgetToken, saveToken, savedToken, whenRefused } from './api.js';
import { ZoneContext, type Zone } from './format.js';
import { href, useRoute } from './route.js';
import { Overview } from './views/Overview.js';
import { Alerts } from './views/Alerts.js';
import { AlertDetail } from './views/AlertDetail.js';
import { Incidents, IncidentDetail } from './views/Incidents.js';
import { Actions, ActionDetail } from './views/Actions.js';
import { MeContext, type Me } from './me.js';
import { useLive } from './live.js';
import { Failure, Loading, X } from './parts/common.js';

function SignIn({ onToken }: { onToken: (t: string) => void }) {
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const token = String(new FormData(e.currentTarget as HTMLFormElement).get('token') ?? '').trim();
    setBusy(true);
    setErr('');
    try {
      await api('/api/health', {}, token);
      saveToken(token);
      onToken(token);
    } catch (error) {
      setErr(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form class="signin-form" onSubmit={submit}>
        <h1>procwatch</h1>
        <label>
          API token
          <input name="token" type="password" autoComplete="off" required autoFocus />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {err ? (
          <p class="failure" role="alert">
            {err}
          </p>
        ) : null}
        <p class="hint">
          The token <code>procwatch serve</code> printed on first start (kept in the data directory's <code>token</code> file). It stays in this browser tab only.
        </p>
      </form>
    </main>
  );
}

const ZONE_KEY = 'procwatch.zone';

function Shell({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const route = useRoute();
  const [zone, setZone] = useState<Zone>(() => (localStorage.getItem(ZONE_KEY) === 'local' ? 'local' : 'utc'));
  const [reload, setReload] = useState(0);
  const live = useLive(route.view === 'alerts' || route.view === 'overview');
  const toggleZone = (): void => {
    const next = zone === 'utc' ? 'local' : 'utc';
    localStorage.setItem(ZONE_KEY, next);
    setZone(next);
  };
  const refresh = (): void => {
    live.seen();
    setReload((r) => r + 1);
  };
  const tab = (view: string, label: string) => (
    <a href={href(view)} class={route.view === view ? 'tab active' : 'tab'} aria-current={route.view === view ? 'page' : undefined}>
      {label}
    </a>
  );
  let body;
  if (route.view === 'alerts' && route.id) body = <AlertDetail id={route.id} reload={reload} />;
  else if (route.view === 'alerts') body = <Alerts route={route} reload={reload} />;
  else if (route.view === 'incidents' && route.id) body = <IncidentDetail id={route.id} reload={reload} />;
  else if (route.view === 'incidents') body = <Incidents route={route} reload={reload} />;
  else if (route.view === 'actions' && route.id) body = <ActionDetail id={route.id} reload={reload} />;
  else if (route.view === 'actions') body = <Actions reload={reload} status={route.params.get('status') ?? undefined} />;
  else body = <Overview reload={reload} />;
  return (
    <MeContext.Provider value={me}>
    <ZoneContext.Provider value={zone}>
      <header class="top">
        <h1>
          <a href={href('overview')}>procwatch</a>
        </h1>
        <nav>
          {tab('overview', 'Overview')}
          {tab('alerts', 'Alerts')}
          {tab('incidents', 'Incidents')}
          {tab('actions', 'Actions')}
        </nav>
        <div class="top-tools">
          {live.fresh > 0 ? (
            <button type="button" class="fresh" onClick={refresh}>
              {live.fresh} new — refresh
            </button>
          ) : null}
          <span class={live.on ? 'live on' : 'live off'} title="live alert stream">
            {live.on ? '● live' : '○ offline'}
          </span>
          <button type="button" class="zone" onClick={toggleZone} title="show times in UTC or local time">
            {zone === 'utc' ? 'UTC' : 'Local'}
          </button>
          <span class="me" title={`token scopes: ${me.scopes.join(', ')}`}>
            <X v={me.name} className="me-name" /> <span class="me-scopes">{me.scopes.includes('admin') ? 'admin' : me.scopes.join(' ')}</span>
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main class="content">{body}</main>
    </ZoneContext.Provider>
    </MeContext.Provider>
  );
}

function App() {
  const [token, setToken] = useState(savedToken());
  const [me, setMe] = useState<Me | null>(null);
  const [meErr, setMeErr] = useState<unknown>(null);
  useEffect(() => {
    whenRefused(() => {
      forgetToken();
      setToken('');
    });
  }, []);
  // What the token may do decides which forms and buttons are shown; read once per sign-in.
  useEffect(() => {
    setMe(null);
    setMeErr(null);
    if (token) api<Me>('/api/me').then(setMe, setMeErr);
  }, [token]);
  if (!token) return <SignIn onToken={setToken} />;
  if (meErr) return <Failure error={meErr} />;
  if (!me) return <Loading />;
  return (
    <Shell
      me={me}
      onSignOut={() => {
        forgetToken();
        setToken('');
      }}
    />
  );
}

render(<App />, document.getElementById('root')!);
