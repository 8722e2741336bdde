/**
 * A hand-written SVG line chart of lateness per tick (no dependency). The y axis is logarithmic: the recipe's
 * lateness grows by its round latency every tick while ours stays within the invoke latency, and on a linear
 * axis ours would be a flat line on the floor.
 */
export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
  /** Values below this (ms) are drawn on it: a log axis has no zero. */
  readonly floor?: number;
}

const escapeXml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

function formatMs(value: number): string {
  if (value >= 1000) return `${value / 1000} s`;
  return `${value} ms`;
}

/** Round numbers for the x axis: about `count` ticks at 1, 2 or 5 × 10^k. */
export function niceSteps(max: number, count: number): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw) ?? raw;
  const steps: number[] = [];
  for (let value = 0; value <= max + 1e-9; value += step) steps.push(Math.round(value * 1e6) / 1e6);
  return steps;
}

export function renderLatenessChart(series: readonly ChartSeries[], options: ChartOptions): string {
  const width = options.width ?? 900;
  const height = options.height ?? 500;
  const floor = options.floor ?? 1;
  const margin = { top: 56, right: 24, bottom: 64, left: 84 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;

  const all = series.flatMap((line) => line.values).map((value) => Math.max(floor, value));
  const maxTicks = Math.max(1, ...series.map((line) => line.values.length - 1));
  const lowDecade = Math.floor(Math.log10(Math.min(floor * 10, ...all)));
  const highDecade = Math.max(lowDecade + 1, Math.ceil(Math.log10(Math.max(floor * 10, ...all))));

  const x = (index: number) => margin.left + (index / maxTicks) * plotWidth;
  const y = (value: number) =>
    margin.top +
    plotHeight -
    ((Math.log10(Math.max(floor, value)) - lowDecade) / (highDecade - lowDecade)) * plotHeight;
  const px = (value: number) => value.toFixed(1);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(options.title)}</text>`,
  );

  // Horizontal grid: every decade labelled, 2× and 5× lighter.
  for (let decade = lowDecade; decade <= highDecade; decade += 1) {
    const value = 10 ** decade;
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${px(y(value))}" y2="${px(y(value))}" stroke="#c8c8c8"/>`,
      `<text x="${margin.left - 8}" y="${px(y(value) + 4)}" text-anchor="end">${escapeXml(formatMs(value))}</text>`,
    );
    if (decade < highDecade) {
      for (const factor of [2, 5]) {
        const minor = factor * value;
        parts.push(
          `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${px(y(minor))}" y2="${px(y(minor))}" stroke="#ececec"/>`,
        );
      }
    }
  }
  // Vertical grid and x labels.
  for (const index of niceSteps(maxTicks, 8)) {
    parts.push(
      `<line x1="${px(x(index))}" x2="${px(x(index))}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="#ececec"/>`,
      `<text x="${px(x(index))}" y="${margin.top + plotHeight + 20}" text-anchor="middle">${index}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333333"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 18}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(22 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );

  for (const line of series) {
    if (line.values.length === 0) continue;
    const points = line.values.map((value, index) => `${px(x(index))},${px(y(value))}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${line.color}" stroke-width="2" points="${points}"/>`);
  }

  // Legend, top left inside the plot.
  const legendX = margin.left + 14;
  const legendY = margin.top + 14;
  const legendWidth = Math.max(...series.map((line) => line.label.length), 10) * 7.2 + 48;
  parts.push(
    `<rect x="${legendX}" y="${legendY}" width="${px(legendWidth)}" height="${series.length * 22 + 12}" fill="#ffffff" fill-opacity="0.9" stroke="#999999"/>`,
  );
  series.forEach((line, index) => {
    const rowY = legendY + 20 + index * 22;
    parts.push(
      `<line x1="${legendX + 10}" x2="${legendX + 34}" y1="${rowY - 4}" y2="${rowY - 4}" stroke="${line.color}" stroke-width="3"/>`,
      `<text x="${legendX + 42}" y="${rowY}">${escapeXml(line.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
