import { describe, expect, it } from 'vitest';
import { describeOutcome, FireLines } from '../../../scripts/local-stack/fire-lines';
import type { LocalStackEvent } from '../../../scripts/local-stack/local-stack';

type FireEvent = Extract<LocalStackEvent, { event: 'fire' }>;

const fire = (seq: number): FireEvent => ({
  event: 'fire',
  poller: 'feed',
  seq,
  scheduledAt: `2030-01-01T00:00:0${seq}.000Z`,
  sentAt: `2030-01-01T00:00:0${seq}.001Z`,
  firedAt: `2030-01-01T00:00:0${seq}.004Z`,
  latenessMs: 4,
});

function screen() {
  const lines: string[] = [];
  const fireLines = new FireLines(
    (event) => `fire ${event.poller} seq ${event.seq}`,
    (line) => lines.push(line),
  );
  return { lines, fireLines };
}

describe('the screen: one line per fire with its outcome', () => {
  it('prints a fire once its worker has finished, with what it did', () => {
    // prepare
    const { lines, fireLines } = screen();

    // act
    fireLines.fire(fire(1));
    fireLines.fire(fire(2));
    const beforeOutcomes = [...lines];
    fireLines.outcome({
      event: 'outcome',
      poller: 'feed',
      seq: 2,
      result: 'failed',
      durationMs: 12,
      detail: 'HTTP 404',
    });
    fireLines.outcome({
      event: 'outcome',
      poller: 'feed',
      seq: 1,
      result: 'ok',
      durationMs: 35,
      detail: 'HTTP 200',
    });

    // assess
    expect(beforeOutcomes).toEqual([]);
    expect(lines).toEqual([
      'fire feed seq 2  → failed: HTTP 404 (12 ms)',
      'fire feed seq 1  → ok HTTP 200 in 35 ms',
    ]);
  });

  it('prints the fires whose outcome never came when the stack stops', () => {
    // prepare
    const { lines, fireLines } = screen();
    fireLines.fire(fire(3));

    // act
    fireLines.flush();
    fireLines.flush();

    // assess
    expect(lines).toEqual(['fire feed seq 3']);
  });

  it('says a refused connection as the worker reported it, and an ok tick without detail plainly', () => {
    expect(
      describeOutcome({
        event: 'outcome',
        poller: 'feed',
        seq: 4,
        result: 'failed',
        durationMs: 3,
        detail: 'connect ECONNREFUSED 127.0.0.1:8080',
      }),
    ).toBe('failed: connect ECONNREFUSED 127.0.0.1:8080 (3 ms)');
    expect(describeOutcome({ event: 'outcome', poller: 'feed', seq: 5, result: 'ok', durationMs: 0 })).toBe(
      'ok in 0 ms',
    );
  });
});
