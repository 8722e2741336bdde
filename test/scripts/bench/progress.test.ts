import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BenchProgress,
  type BenchStep,
  clockText,
  PIPED_EVERY_MS,
  plannedRunMs,
  progressLine,
  remainingMs,
} from '../../../scripts/bench/progress';

const STEPS: BenchStep[] = [
  { label: 'timing 128 MB, 0.1 s: 30 ticks', plannedMs: 10_000 },
  { label: 'timing 128 MB, 1 s: 30 ticks, then the recipe', plannedMs: 60_000 },
  { label: 'rounds run', plannedMs: 30_000 },
];

describe('the benchmark’s ETA', () => {
  it('plans a run from its ticks and cadence, twice the ticks when the recipe runs too', () => {
    expect(plannedRunMs(1, 30, false)).toBe(4_000 + 1_000 + 30_000 + 1_000);
    expect(plannedRunMs(1, 30, true)).toBe(4_000 + 1_000 + 60_000 + 1_000);
  });

  it('is the plan left at the start, and scales the rest by the pace of the steps done', () => {
    const startedMs = 1_000_000;
    expect(remainingMs(STEPS, { step: 0, stepStartedMs: startedMs, startedMs, nowMs: startedMs })).toBe(
      100_000,
    );
    // The first step took 20 s for a 10 s plan: what remains (60 s + 30 s) will take twice as long too.
    const later = { step: 1, stepStartedMs: startedMs + 20_000, startedMs, nowMs: startedMs + 50_000 };
    expect(remainingMs(STEPS, later)).toBe(120_000 - 30_000 + 60_000);
    expect(progressLine(STEPS, later)).toBe(
      '[2/3] timing 128 MB, 1 s: 30 ticks, then the recipe · 0:50 elapsed · about 2:30 left',
    );
  });

  it('never counts down below zero within a step that overruns its plan', () => {
    const startedMs = 0;
    expect(remainingMs(STEPS, { step: 2, stepStartedMs: 70_000, startedMs, nowMs: 200_000 })).toBe(0);
  });

  it('writes minutes and seconds, with hours when there are any', () => {
    expect([clockText(5_000), clockText(65_000), clockText(3_723_000)]).toEqual(['0:05', '1:05', '1:02:03']);
  });
});

describe('BenchProgress on stderr', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rewrites one line on a terminal, every second, and prints log lines above it', () => {
    const written: string[] = [];
    const progress = new BenchProgress(STEPS, { isTTY: true, write: (text) => written.push(text) });

    progress.begin(0);
    vi.advanceTimersByTime(2_000);
    progress.log('  CPU share: 128 MB → 7.2% of a core');
    progress.finish();

    expect(written).toEqual([
      '\r\x1b[K[1/3] timing 128 MB, 0.1 s: 30 ticks · 0:00 elapsed · about 1:40 left',
      '\r\x1b[K[1/3] timing 128 MB, 0.1 s: 30 ticks · 0:01 elapsed · about 1:39 left',
      '\r\x1b[K[1/3] timing 128 MB, 0.1 s: 30 ticks · 0:02 elapsed · about 1:38 left',
      '\r\x1b[K  CPU share: 128 MB → 7.2% of a core\n',
      '\r\x1b[K[1/3] timing 128 MB, 0.1 s: 30 ticks · 0:02 elapsed · about 1:38 left',
      '\r\x1b[K',
    ]);
    expect(written.every((text) => !text.includes('\n') || text.endsWith('\n'))).toBe(true);
  });

  it('piped, writes whole lines: one per step and one every 30 s within a long step, no escape codes', () => {
    const written: string[] = [];
    const progress = new BenchProgress(STEPS, { isTTY: false, write: (text) => written.push(text) });

    progress.begin(0);
    vi.advanceTimersByTime(10_000);
    progress.begin(1);
    vi.advanceTimersByTime(PIPED_EVERY_MS + 5_000);
    progress.finish();
    vi.advanceTimersByTime(60_000);

    expect(written).toEqual([
      '[1/3] timing 128 MB, 0.1 s: 30 ticks · 0:00 elapsed · about 1:40 left\n',
      '[2/3] timing 128 MB, 1 s: 30 ticks, then the recipe · 0:10 elapsed · about 1:30 left\n',
      '[2/3] timing 128 MB, 1 s: 30 ticks, then the recipe · 0:40 elapsed · about 1:00 left\n',
    ]);
  });
});
