/** Small guards the message decoders share, so each decoder yields its type without a cast. */

/** A JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isWholeNumberIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** The value if it is a string, else undefined (a wrong type reads as absent). */
export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
