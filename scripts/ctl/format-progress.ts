import { formatDuration } from './format-duration';
import type { LoopProgress, TickPoint } from './loop-progress';

/** `in 1.4 s` / `3 s ago` from `nowMs`; null for a time that does not parse. */
export function relativeTo(iso: string, nowMs: number): string | null {
  const atMs = Date.parse(iso);
  if (Number.isNaN(atMs)) return null;
  const deltaMs = atMs - nowMs;
  return deltaMs >= 0 ? `in ${formatDuration(deltaMs)}` : `${formatDuration(-deltaMs)} ago`;
}

/** `about 2026-11-23T06:01:02.000Z (in 1.4 s)`: a tick's time, "about" when derived from the grid. */
export function tickTimeText(point: TickPoint | null, nowMs: number): string {
  if (point === null || point.at === null) return '-';
  const relative = relativeTo(point.at, nowMs);
  return `${point.derived ? 'about ' : ''}${point.at}${relative === null ? '' : ` (${relative})`}`;
}

/** `about 14` / `14` / `-`: a tick's seq, "about" when derived from the grid. */
export function tickSeqText(point: TickPoint | null): string {
  if (point === null || point.seq === null) return '-';
  return `${point.derived ? 'about ' : ''}${point.seq}`;
}

/** Whether anything shown was carried forward from the item's last write. */
export function isDerived(progress: LoopProgress): boolean {
  return progress.last?.derived === true || progress.next?.derived === true;
}
