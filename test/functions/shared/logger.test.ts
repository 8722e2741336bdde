import { describe, expect, it } from 'vitest';
import {
  createJsonLogger,
  createLogger,
  type LogFields,
  type LogLevel,
} from '../../../functions/shared/logger';

interface Line {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields | undefined;
}

function recording() {
  const lines: Line[] = [];
  return { lines, log: createLogger((level, message, fields) => lines.push({ level, message, fields })) };
}

describe('Logger.child', () => {
  it('puts the bound fields on every line of the child, before the call’s own', () => {
    // prepare
    const { lines, log } = recording();
    const round = log.child({ pollerId: 'orders', executionId: 'exec-1', generation: 3 });

    // act
    round.info('round summary', { fired: 2 });
    round.warn('write refused');
    round.error('tick not delivered', { seq: 7 });

    // assess
    expect(lines).toEqual([
      {
        level: 'info',
        message: 'round summary',
        fields: { pollerId: 'orders', executionId: 'exec-1', generation: 3, fired: 2 },
      },
      {
        level: 'warn',
        message: 'write refused',
        fields: { pollerId: 'orders', executionId: 'exec-1', generation: 3 },
      },
      {
        level: 'error',
        message: 'tick not delivered',
        fields: { pollerId: 'orders', executionId: 'exec-1', generation: 3, seq: 7 },
      },
    ]);
  });

  it('binds more fields on a child of a child, and leaves the parent as it was', () => {
    // prepare
    const { lines, log } = recording();
    const poller = log.child({ pollerId: 'orders' });

    // act
    poller.child({ generation: 4 }).info('loop stopped', { reason: 'superseded' });
    poller.info('tick');
    log.info('plain', { a: 1 });

    // assess
    expect(lines.map((line) => line.fields)).toEqual([
      { pollerId: 'orders', generation: 4, reason: 'superseded' },
      { pollerId: 'orders' },
      { a: 1 },
    ]);
  });

  it('lets a call’s own field win over a bound one of the same name', () => {
    const { lines, log } = recording();

    log.child({ generation: 1 }).info('console start took the poller', { generation: 2 });

    expect(lines[0]?.fields).toEqual({ generation: 2 });
  });

  it('writes one JSON object per line with level, message, time and the bound fields', () => {
    // prepare
    const written: string[] = [];
    const log = createJsonLogger((line) => written.push(line)).child({ pollerId: 'orders' });

    // act
    log.info('round summary', { fired: 1 });

    // assess
    expect(written).toHaveLength(1);
    expect(Object.keys(JSON.parse(written[0] ?? '{}'))).toEqual([
      'level',
      'message',
      'time',
      'pollerId',
      'fired',
    ]);
  });
});
