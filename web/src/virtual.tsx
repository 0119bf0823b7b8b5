/**
 * A virtualised list: only the rows in view (and a few around) are in the
 * DOM, so a list of a hundred thousand rows costs what a screenful does.
 * Rows have one fixed height; positions are set through the style object
 * (CSSOM), which the page's Content-Security-Policy allows.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

export const ROW = 24;

export interface VirtualListProps {
  count: number;
  row: (i: number, style: Record<string, string>) => ComponentChildren;
  /** Keep the view at the end while new rows arrive (when it is there already). */
  follow?: boolean;
  /** Called with the range of rows in view. */
  onRange?: (first: number, last: number) => void;
  /** Scroll so that this row is in view. */
  reveal?: number | null;
  label?: string;
}

export function VirtualList(p: VirtualListProps) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const atEnd = useRef(true);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && p.follow && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [p.count, p.follow]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el || p.reveal === null || p.reveal === undefined || p.reveal < 0) return;
    const y = p.reveal * ROW;
    if (y < el.scrollTop || y + ROW > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, y - el.clientHeight / 3);
  }, [p.reveal]);

  const first = Math.max(0, Math.floor(top / ROW) - 10);
  const last = Math.min(p.count - 1, Math.ceil((top + height) / ROW) + 10);
  useEffect(() => p.onRange?.(first, last), [first, last, p.count]);

  const rows = [];
  for (let i = first; i <= last; i++) rows.push(p.row(i, { top: `${i * ROW}px` }));
  return (
    <div
      class="vscroll"
      ref={box}
      role="list"
      aria-label={p.label}
      onScroll={(ev) => {
        const el = ev.currentTarget as HTMLDivElement;
        atEnd.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
        setTop(el.scrollTop);
      }}
    >
      <div class="vinner" style={{ height: `${p.count * ROW}px` }}>
        {rows}
      </div>
    </div>
  );
}
