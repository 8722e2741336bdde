import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BenchResultsError, parseTargetChecks, verdictText } from '../../../scripts/bench/report-markdown';

/** The result column of the targets table in a committed report. */
function resultColumn(markdown: string): string[] {
  const start = markdown.indexOf('| target | scope | value | limit | result |');
  return markdown
    .slice(start)
    .split('\n')
    .slice(2)
    .filter((line) => line.startsWith('|'))
    .map((line) => line.split('|').at(-2)?.trim() ?? '');
}

describe('committed benchmark results read as they were judged', () => {
  it('renders every target of bench/results/latest.json as its report latest.md says (13 PASS)', () => {
    const results: unknown = JSON.parse(readFileSync('bench/results/latest.json', 'utf8'));
    const markdown = readFileSync('bench/results/latest.md', 'utf8');
    const targets =
      typeof results === 'object' && results !== null && 'targets' in results ? results.targets : null;

    const verdicts = parseTargetChecks(targets).map(verdictText);

    expect(verdicts).toEqual(resultColumn(markdown));
    expect(verdicts).toEqual(Array(13).fill('PASS'));
  });

  it('reads a report written before `verdict` existed (`pass: boolean`) as judged', () => {
    const old = { target: 'drift < 0.1 ms/tick', scope: '1 s, 128 MB', value: '0.01', limit: '0.1' };

    expect(
      parseTargetChecks([
        { ...old, pass: true },
        { ...old, pass: false },
      ]).map(verdictText),
    ).toEqual(['PASS', 'FAIL']);
    expect(
      parseTargetChecks([{ ...old, verdict: 'not-judged', notJudgedBecause: '30 ticks' }]).map(verdictText),
    ).toEqual(['not judged (30 ticks)']);
  });

  it.each<[string, unknown]>([
    ['no verdict and no pass', [{ target: 't', scope: 's', value: 'v', limit: 'l' }]],
    ['an unknown verdict', [{ target: 't', scope: 's', value: 'v', limit: 'l', verdict: 'ok' }]],
    ['a target without its text', [{ verdict: 'pass' }]],
    ['no list', { targets: 3 }],
  ])('refuses %s with the entry found', (_name, targets) => {
    expect(() => parseTargetChecks(targets)).toThrow(BenchResultsError);
  });
});
