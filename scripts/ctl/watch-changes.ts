import type { PollerItem } from '../../functions/shared/control-item';
import { staleAfterMs } from '../../functions/shared/loop-ownership';
import type { PollerLine } from './commands/list';

/**
 * What changed on one poller's item since the previous frame, judged from its recorded `seq` alone. A live loop
 * writes `seq` with each claim (at least every 30 s) and each hand-back, not per tick, so a healthy fast poller
 * shows +0 for a while and then the fires of the last claim window at once: the advance counts fires *recorded*
 * between two frames, never fires per frame.
 */
export type SeqChange =
  /** The first frame that shows this poller: nothing to compare with. */
  | { readonly kind: 'first'; readonly seq: number | null }
  /** The recorded seq moved forward by `advance` (the fires recorded; a retried round may skip seqs). */
  | { readonly kind: 'advanced'; readonly seq: number; readonly advance: number }
  /**
   * The same seq as the previous frame. `unchangedForMs` counts from the first frame that showed it (what the
   * watch saw, not when the loop wrote it); `staleCandidate`: the poller is running outside a pause window and its
   * seq stayed put for longer than its stale threshold (3 intervals, at least 90 s), which a live loop's writes
   * never leave.
   */
  | {
      readonly kind: 'same';
      readonly seq: number | null;
      readonly unchangedForMs: number;
      readonly staleCandidate: boolean;
    }
  /** The seq went down or vanished: the item was deleted and created again. */
  | { readonly kind: 'reset'; readonly seq: number | null; readonly previousSeq: number | null };

/** What the watch remembers of each poller between frames. */
export interface SeqMemory {
  readonly byPoller: ReadonlyMap<string, { readonly seq: number | null; readonly sinceMs: number }>;
}

export const EMPTY_SEQ_MEMORY: SeqMemory = { byPoller: new Map() };

export interface FrameChanges {
  readonly changes: ReadonlyMap<string, SeqChange>;
  /** Pollers the previous frame showed and this one does not (deleted), by id. */
  readonly gone: readonly string[];
  /** What the next frame compares with. */
  readonly memory: SeqMemory;
}

/**
 * Compares the items read at `nowMs` with the previous frame's memory. Pure: the watch keeps the memory, so a
 * failed read in between changes nothing and the next frame counts from the last one that was read.
 */
export function seqChanges(
  memory: SeqMemory,
  items: readonly PollerItem[],
  lines: readonly PollerLine[],
  nowMs: number,
): FrameChanges {
  const lineOf = new Map(lines.map((line) => [line.pollerId, line]));
  const changes = new Map<string, SeqChange>();
  const next = new Map<string, { seq: number | null; sinceMs: number }>();
  for (const item of items) {
    const seq = item.seq ?? null;
    const before = memory.byPoller.get(item.pollerId);
    next.set(item.pollerId, { seq, sinceMs: before?.seq === seq ? before.sinceMs : nowMs });
    const line = lineOf.get(item.pollerId);
    // A poller in a pause window fires nothing by design: its seq stays put until the window ends.
    const expectsFires =
      line?.state === 'running' && !(line.cadenceSource === 'window' && line.cadenceSeconds === null);
    changes.set(item.pollerId, changeOf(item, seq, before, expectsFires, nowMs));
  }
  const gone = [...memory.byPoller.keys()].filter((pollerId) => !next.has(pollerId)).sort();
  return { changes, gone, memory: { byPoller: next } };
}

function changeOf(
  item: PollerItem,
  seq: number | null,
  before: { readonly seq: number | null; readonly sinceMs: number } | undefined,
  expectsFires: boolean,
  nowMs: number,
): SeqChange {
  if (before === undefined) return { kind: 'first', seq };
  if (seq === before.seq) {
    const unchangedForMs = nowMs - before.sinceMs;
    return {
      kind: 'same',
      seq,
      unchangedForMs,
      staleCandidate: expectsFires && unchangedForMs > staleAfterMs(item),
    };
  }
  if (seq !== null && (before.seq === null || seq > before.seq)) {
    return { kind: 'advanced', seq, advance: seq - (before.seq ?? 0) };
  }
  return { kind: 'reset', seq, previousSeq: before.seq };
}
