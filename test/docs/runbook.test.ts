import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WORKER_ASYNC_RETRY } from '../../infra/constructs/poller-functions';
import { ALARMS } from '../../infra/constructs/scheduler-alarms';

/** docs/runbook.md holds together: every alarm it lists has its section, and every link inside it lands. */
const RUNBOOK = readFileSync(new URL('../../docs/runbook.md', import.meta.url), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const headings = [...RUNBOOK.matchAll(/^#{2,4} (.+)$/gm)].map((match) => match[1] ?? '');
/** The rows of the table in the `## Alarms` section (up to the next heading). */
const ALARMS_SECTION = /^## Alarms\n([\s\S]*?)^## /m.exec(RUNBOOK)?.[1] ?? '';
const listedAlarmIds = [...ALARMS_SECTION.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((match) => match[1] ?? '');

describe('docs/runbook.md', () => {
  it('lists exactly the alarms the stack defines (infra/constructs/scheduler-alarms.ts ALARMS)', () => {
    expect([...listedAlarmIds].sort()).toEqual(
      Object.values(ALARMS)
        .map((alarm) => alarm.id)
        .sort(),
    );
  });

  it.each(listedAlarmIds)('has a section for alarm %s', (alarmId) => {
    expect(headings.some((heading) => heading.startsWith(`${alarmId}: `))).toBe(true);
  });

  it('links only to sections it has', () => {
    const anchors = new Set(headings.map(anchorOf));
    const links = [...RUNBOOK.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1] ?? '');

    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });
});

describe('the worker delivery the docs state', () => {
  const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  /** Every "WORKER_ASYNC_RETRY …: N retries, S s maximum event age" in a text, as [N, S]. */
  const statedIn = (text: string) =>
    [...text.matchAll(/`WORKER_ASYNC_RETRY`[^:]*: (\d+) retr(?:y|ies),\s+(\d+) s maximum event age/g)].map(
      (match) => [Number(match[1]), Number(match[2])],
    );
  const actual = [WORKER_ASYNC_RETRY.retryAttempts, WORKER_ASYNC_RETRY.maxEventAge.toSeconds()];

  it('in the runbook is WORKER_ASYNC_RETRY (infra/constructs/poller-functions.ts)', () => {
    expect(statedIn(RUNBOOK)).toEqual([actual]);
  });

  it("in the README's construct props table is WORKER_ASYNC_RETRY", () => {
    expect(statedIn(README)).toEqual([actual]);
  });
});
