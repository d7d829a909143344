import { useEffect, useState } from 'preact/hooks';

function typing(t: EventTarget | null): boolean {
  return t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(t.tagName));
}

/**
 * Keyboard navigation of a list: j/↓ next, k/↑ previous, Enter opens. Keys typed into a form field are left
 * alone. Returns the selected index (-1 before the first key); `resetKey` changing clears it.
 */
export function useListKeys(count: number, open: (i: number) => void, resetKey: string): number {
  const [sel, setSel] = useState(-1);
  useEffect(() => setSel(-1), [resetKey]);
  useEffect(() => {
    const on = (e: KeyboardEvent): void => {
      if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target) || count === 0) return;
      if (e.key === 'j' || e.key === 'ArrowDown') setSel((s) => Math.min(count - 1, s + 1));
      else if (e.key === 'k' || e.key === 'ArrowUp') setSel((s) => Math.max(0, s - 1));
      else if (e.key === 'Enter' && sel >= 0) open(sel);
      else return;
      e.preventDefault();
    };
    document.addEventListener('keydown', on);
    return () => document.removeEventListener('keydown', on);
  }, [count, sel, open]);
  useEffect(() => {
    if (sel >= 0) document.querySelector('tr.selected')?.scrollIntoView({ block: 'nearest' });
  }, [sel]);
  return sel;
}
