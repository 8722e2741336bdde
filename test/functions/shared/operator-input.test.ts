import { describe, expect, it } from 'vitest';
import { InvalidControlItemError } from '../../../functions/shared/errors';
import { parsePayloadText, parseTargetText } from '../../../functions/shared/operator-input';

const messageOf = (result: unknown): string =>
  result instanceof InvalidControlItemError ? result.message : `accepted ${JSON.stringify(result)}`;

describe('parseTargetText: the controller’s target check on text', () => {
  it.each([
    'my-fn',
    'my_fn:live',
    'arn:aws:lambda:eu-west-1:123456789012:function:fn',
    'arn:aws:lambda:eu-west-1:123456789012:function:fn:$LATEST',
  ])('accepts %j as it is', (text) => {
    expect(parseTargetText('p', text)).toBe(text);
  });

  it.each(['', 'has space', 'a/b', 'fn:', 'arn:aws:s3:::bucket'])(
    'refuses %j naming the poller and the value',
    (text) => {
      const result = parseTargetText('p', text);

      expect(result).toBeInstanceOf(InvalidControlItemError);
      expect(messageOf(result)).toBe(
        `poller 'p': target must be a Lambda function name or ARN (S), or absent for the default worker; got S ${JSON.stringify(text)}`,
      );
    },
  );
});

describe('parsePayloadText: a JSON object the worker receives', () => {
  it('accepts an object, nested lists and maps, and numbers DynamoDB stores', () => {
    expect(parsePayloadText('p', '{"a":[1,{"b":null}],"c":"x","d":1e-5,"e":0,"f":-1e125}')).toEqual({
      a: [1, { b: null }],
      c: 'x',
      d: 1e-5,
      e: 0,
      f: -1e125,
    });
  });

  it.each([
    ['{oops', 'must be a JSON object, e.g. {"url":"https://example.com"}'],
    ['[1]', 'must be a JSON object (a map), not a list or a scalar'],
    ['"text"', 'must be a JSON object (a map), not a list or a scalar'],
    ['null', 'must be a JSON object (a map), not a list or a scalar'],
    ['{"n":1e126}', 'holds the number 1e+126, outside what DynamoDB stores (1e-130 to 1e126 in magnitude)'],
    [
      '{"n":[1e-131]}',
      'holds the number 1e-131, outside what DynamoDB stores (1e-130 to 1e126 in magnitude)',
    ],
    ['{"n":1e400}', 'holds the number Infinity, outside what DynamoDB stores (1e-130 to 1e126 in magnitude)'],
  ])('refuses %s', (text, expected) => {
    expect(messageOf(parsePayloadText('p', text))).toBe(
      `poller 'p': payload ${expected}; got ${JSON.stringify(text)}`,
    );
  });

  it('refuses a payload over 64 KB with the controller’s own message', () => {
    const text = JSON.stringify({ big: 'x'.repeat(65_536) });

    expect(messageOf(parsePayloadText('p', text))).toBe(
      `poller 'p': payload must be at most 65536 bytes as JSON; got a map of ${text.length} bytes`,
    );
  });
});
