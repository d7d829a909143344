/**
 * Hash routes (#/alerts?host=WS01, #/alerts/ID, ...): every view and filter lives in the URL, so a link can be
 * shared and the browser's back button walks through searches and detail pages.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** 'overview' | 'alerts' | 'incidents' | 'actions' */
  view: string;
  /** The id after the view, for a detail page. */
  id?: string;
  params: URLSearchParams;
}

export const VIEWS = ['overview', 'alerts', 'incidents', 'actions'] as const;

export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  const [view, ...rest] = path.split('/');
  const known = (VIEWS as readonly string[]).includes(view ?? '') ? view! : 'overview';
  const id = rest.length > 0 && rest.join('/') !== '' ? decodeId(rest.join('/')) : undefined;
  return { view: known, ...(id !== undefined ? { id } : {}), params };
}

/** A hand-edited URL may carry a malformed %-escape: it is then taken as typed (the API answers 404). */
function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    if (err instanceof URIError) return raw;
    throw err;
  }
}

/** The href of a view, detail page or filtered list; empty parameters are left out. */
export function href(view: string, id?: string, params?: Record<string, string | undefined> | URLSearchParams): string {
  const p = new URLSearchParams();
  if (params instanceof URLSearchParams) params.forEach((v, k) => v !== '' && p.set(k, v));
  else if (params) for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, v);
  const qs = p.toString();
  return `#/${view}${id !== undefined ? `/${encodeURIComponent(id)}` : ''}${qs ? `?${qs}` : ''}`;
}

export function navigate(to: string): void {
  location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
