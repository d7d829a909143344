/**
 * Who is signed in and what the token may do (GET /api/me). The console hides what the role does not allow;
 * the server enforces it regardless (a hidden button is a courtesy, not the control).
 */
import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';

export interface Me {
  name: string;
  scopes: string[];
}

export const MeContext = createContext<Me>({ name: '', scopes: [] });

/** Whether the signed-in token holds `scope` (admin holds every scope; the server expands implications too). */
export function useCan(scope: 'triage' | 'respond'): boolean {
  const me = useContext(MeContext);
  return me.scopes.includes(scope) || me.scopes.includes('admin');
}

export function useMe(): Me {
  return useContext(MeContext);
}

/** Children shown only to a token holding `scope`. */
export function IfCan({ scope, children }: { scope: 'triage' | 'respond'; children: ComponentChildren }) {
  return useCan(scope) ? <>{children}</> : null;
}
