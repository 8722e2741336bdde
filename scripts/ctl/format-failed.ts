import type { FailedEntry, FailedListReport, FailedReplayReport } from './commands/failed';
import { functionNameOfArn } from './failed-delivery';
import { alignColumns } from './format-list';

/** How much of an error fits on a line; `failed list --json` has all of it. */
export const FAILED_ERROR_WIDTH = 80;

export const FAILED_HEADERS = [
  'SENT',
  'KIND',
  'POLLER',
  'SEQ',
  'SCHEDULED',
  'FUNCTION',
  'WHY',
  'ERROR',
] as const;

/** One aligned line per message under a header line that names the queue; a sentence when it is empty. */
export function formatFailedList(report: FailedListReport): string {
  if (report.entries.length === 0) return `no failed ticks: queue ${report.queueUrl} is empty`;
  const count = `${report.entries.length}${report.more ? '+' : ''} message${report.entries.length === 1 ? '' : 's'}`;
  const heading = `failed-ticks queue ${report.queueUrl}: ${count} (nothing deleted; \`ctl failed replay\` fires ticks again)`;
  const more = report.more
    ? `\nmore messages wait than one run reads: replay or delete these to see the rest`
    : '';
  return `${heading}\n${alignColumns([[...FAILED_HEADERS], ...report.entries.map(cellsOfEntry)])}${more}`;
}

function cellsOfEntry(entry: FailedEntry): string[] {
  const sent = entry.sentAt ?? '-';
  switch (entry.kind) {
    case 'tick':
      return [
        sent,
        'tick',
        entry.tick.pollerId,
        String(entry.tick.seq),
        entry.tick.scheduledAt,
        functionNameOfArn(entry.functionArn),
        entry.attempts === null
          ? entry.condition
          : `${entry.condition}, ${entry.attempts} attempt${entry.attempts === 1 ? '' : 's'}`,
        clip(entry.error ?? '-'),
      ];
    case 'stream-batch':
      return [
        sent,
        'start',
        '-',
        '-',
        '-',
        '-',
        entry.condition,
        // Where the batch was in the stream: the changes themselves are not in the record (runbook: "start" lines).
        clip(
          `loop start failed: ${entry.batchSize ?? '?'} table change(s), stream seq ${entry.startSequenceNumber}..${entry.endSequenceNumber}`,
        ),
      ];
    case 'unreadable':
      return [sent, '?', '-', '-', '-', '-', 'unreadable', clip(entry.reason)];
  }
}

/** One line per tick fired again (or not), then a summary. */
export function formatFailedReplay(report: FailedReplayReport): string {
  const scope = report.pollerId === null ? '' : ` for poller '${report.pollerId}'`;
  const left =
    report.leftInQueue === 0
      ? ''
      : `; ${report.leftInQueue} message${report.leftInQueue === 1 ? '' : 's'} left in the queue (\`ctl failed list\`)`;
  if (report.outcomes.length === 0) return `no failed ticks to replay${scope} in ${report.queueUrl}${left}`;
  const lines = report.outcomes.map((outcome) => {
    const tick = `poller '${outcome.pollerId}' seq ${outcome.seq} → ${functionNameOfArn(outcome.functionArn)}`;
    if (outcome.ok) return `replayed  ${tick} (accepted; message deleted)`;
    return outcome.replayed
      ? `replayed  ${tick} (accepted) but not deleted: ${outcome.error ?? 'unknown error'} (message kept: a later replay fires it again)`
      : `failed    ${tick}: ${outcome.error ?? 'unknown error'} (message kept)`;
  });
  const replayed = report.outcomes.filter((outcome) => outcome.replayed).length;
  const notDeleted = report.outcomes.filter((outcome) => outcome.replayed && !outcome.ok).length;
  const failed = report.outcomes.length - replayed;
  const summary = `replayed ${replayed} of ${report.outcomes.length} failed tick${report.outcomes.length === 1 ? '' : 's'}${scope}${notDeleted > 0 ? `; ${notDeleted} replayed, not deleted` : ''}${failed > 0 ? `; ${failed} failed` : ''}${left}`;
  return [...lines, summary].join('\n');
}

const clip = (text: string) => {
  const line = text.replace(/\s+/g, ' ');
  return line.length > FAILED_ERROR_WIDTH ? `${line.slice(0, FAILED_ERROR_WIDTH - 1)}…` : line;
};
