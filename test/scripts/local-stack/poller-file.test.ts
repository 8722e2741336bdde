import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type DeclaredPoller,
  decodePollerFile,
  editMatching,
  PollerFileError,
  readPollerFile,
} from '../../../scripts/local-stack/poller-file';

/** The fleet files `npm start -- --pollers FILE` accepts, and every refusal with the line the operator reads. */
describe('decodePollerFile', () => {
  const accepted: { name: string; file: string; text: string; expected: DeclaredPoller[] }[] = [
    {
      name: 'a YAML list with every field',
      file: 'fleet.yaml',
      text: [
        '- id: bus-predictions',
        '  every: 2',
        '  running: true',
        '  target: arn:aws:lambda:us-east-1:123456789012:function:fetch-feed',
        '  payload:',
        '    url: http://127.0.0.1:9000/predictions',
        '    stops: [1234, 5678]',
        '  overlap: skip',
      ].join('\n'),
      expected: [
        {
          id: 'bus-predictions',
          fields: {
            running: true,
            waitSeconds: 2,
            target: 'arn:aws:lambda:us-east-1:123456789012:function:fetch-feed',
            payload: { url: 'http://127.0.0.1:9000/predictions', stops: [1234, 5678] },
            overlap: 'skip',
          },
        },
      ],
    },
    {
      name: 'running defaults to true; decimals and a cadence as text are accepted',
      file: 'fleet.yml',
      text: "- id: a\n  every: 0.25\n- id: b\n  every: '17.5'\n  running: false\n",
      expected: [
        { id: 'a', fields: { running: true, waitSeconds: 0.25 } },
        { id: 'b', fields: { running: false, waitSeconds: 17.5 } },
      ],
    },
    {
      name: 'a time zone and window rules, as a list or as one string of rules separated by ;',
      file: 'fleet.yaml',
      text: [
        '- id: day',
        '  every: 30',
        '  timezone: Europe/Berlin',
        '  windows:',
        '    - Mon-Fri 06:00-20:00 every 2',
        '    - Sun 01:00-05:00 pause',
        '- id: night',
        '  every: 60',
        "  windows: 'daily 22:00-24:00 every 10; daily 00:00-06:00 every 10'",
        '- id: utc',
        '  every: 5',
        '  timezone: UTC',
      ].join('\n'),
      expected: [
        {
          id: 'day',
          fields: {
            running: true,
            waitSeconds: 30,
            timeZone: 'Europe/Berlin',
            windows: ['Mon-Fri 06:00-20:00 every 2', 'Sun 01:00-05:00 pause'],
          },
        },
        {
          id: 'night',
          fields: {
            running: true,
            waitSeconds: 60,
            windows: ['daily 22:00-24:00 every 10', 'daily 00:00-06:00 every 10'],
          },
        },
        { id: 'utc', fields: { running: true, waitSeconds: 5, timeZone: null } },
      ],
    },
    {
      name: 'the same list as JSON',
      file: 'fleet.json',
      text: JSON.stringify([{ id: 'service-alerts', every: 10, payload: { url: 'http://x/alerts' } }]),
      expected: [
        {
          id: 'service-alerts',
          fields: { running: true, waitSeconds: 10, payload: { url: 'http://x/alerts' } },
        },
      ],
    },
  ];

  it.each(accepted)('accepts $name', ({ file, text, expected }) => {
    expect(decodePollerFile(file, text)).toEqual(expected);
  });

  const refused: { name: string; file: string; text: string; message: string; pollerId?: string }[] = [
    {
      name: 'a typo in a field name, with the field it probably meant',
      file: 'fleet.yaml',
      text: '- id: bus\n  evrey: 2\n',
      message:
        'fleet.yaml: poller \'bus\': unknown field "evrey" (did you mean "every"?); a poller has id, every, running, target, payload, timezone, windows, overlap',
      pollerId: 'bus',
    },
    {
      name: 'an unknown field nothing resembles',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  colour: red\n',
      message:
        'fleet.yaml: poller \'bus\': unknown field "colour"; a poller has id, every, running, target, payload, timezone, windows, overlap',
      pollerId: 'bus',
    },
    {
      name: 'a missing cadence',
      file: 'fleet.yaml',
      text: '- id: bus\n',
      message: "fleet.yaml: poller 'bus': every is required",
      pollerId: 'bus',
    },
    {
      name: 'a cadence that is not a number',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: abc\n',
      message:
        'fleet.yaml: poller \'bus\': every must be a number of seconds from 0.1 to 3600, decimals allowed; got "abc"',
      pollerId: 'bus',
    },
    {
      name: 'a cadence out of range',
      file: 'fleet.json',
      text: '[{"id":"bus","every":3601}]',
      message:
        "fleet.json: poller 'bus': every must be a number of seconds from 0.1 to 3600, decimals allowed; got 3601",
      pollerId: 'bus',
    },
    {
      name: 'an empty cadence (YAML null)',
      file: 'fleet.yaml',
      text: '- id: bus\n  every:\n',
      message:
        "fleet.yaml: poller 'bus': every must be a number of seconds from 0.1 to 3600, decimals allowed; got null",
      pollerId: 'bus',
    },
    {
      name: 'running that is not a boolean',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  running: "yes"\n',
      message: 'fleet.yaml: poller \'bus\': running must be true or false; got "yes"',
      pollerId: 'bus',
    },
    {
      name: 'a target the controller would refuse (its own words)',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  target: "not a function!"\n',
      message:
        'fleet.yaml: poller \'bus\': target must be a Lambda function name or ARN (S), or absent for the default worker; got S "not a function!"',
      pollerId: 'bus',
    },
    {
      name: 'a target that is not a string',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  target: 42\n',
      message: "fleet.yaml: poller 'bus': target must be a Lambda function name or ARN (a string); got 42",
      pollerId: 'bus',
    },
    {
      name: 'a payload that is a list',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  payload: [1, 2]\n',
      message:
        'fleet.yaml: poller \'bus\': payload must be a JSON object (a map), not a list or a scalar; got "[1,2]"',
      pollerId: 'bus',
    },
    {
      name: 'a payload holding a number YAML can write but JSON cannot',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  payload: { limit: .inf }\n',
      message: "fleet.yaml: poller 'bus': payload must be plain JSON; it holds the number Infinity",
      pollerId: 'bus',
    },
    {
      name: 'a payload over 64 KB',
      file: 'fleet.json',
      text: JSON.stringify([{ id: 'bus', every: 2, payload: { blob: 'x'.repeat(70_000) } }]),
      message:
        "fleet.json: poller 'bus': payload must be at most 65536 bytes as JSON; got a map of 70011 bytes",
      pollerId: 'bus',
    },
    {
      name: 'a time zone the platform does not know',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  timezone: Mars/Olympus\n',
      message:
        'fleet.yaml: poller \'bus\': timezone must be an IANA time zone name (S) such as Europe/Berlin, or absent for UTC; got S "Mars/Olympus"',
      pollerId: 'bus',
    },
    {
      name: 'a window rule the controller would refuse, named by its place',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  windows: [Mon-Fri 06:00-20:00 every 2, Mon-Fri 20:00-06:00 every 5]\n',
      message:
        'fleet.yaml: poller \'bus\': windows[1] "Mon-Fri 20:00-06:00 every 5": hours end must be after start (a window across midnight is two rules: ... 22:00-24:00 and ... 00:00-02:00); got "20:00-06:00"',
      pollerId: 'bus',
    },
    {
      name: 'windows that are not strings',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  windows: [1, 2]\n',
      message:
        'fleet.yaml: poller \'bus\': windows must be a list of rule strings (or one string of rules separated by ;) such as "Mon-Fri 06:00-20:00 every 2"; got [1,2]',
      pollerId: 'bus',
    },
    {
      name: 'an overlap policy that is not allow or skip',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  overlap: sometimes\n',
      message:
        'fleet.yaml: poller \'bus\': overlap must be one of allow, skip (S), or absent for allow; got S "sometimes"',
      pollerId: 'bus',
    },
    {
      name: 'an id that is not a poller id',
      file: 'fleet.yaml',
      text: '- id: bus stop 12\n  every: 2\n',
      message: 'fleet.yaml: entry 1: id must be 1-64 of A-Z a-z 0-9 . _ -; got "bus stop 12"',
    },
    {
      name: 'an entry without an id',
      file: 'fleet.yaml',
      text: '- id: a\n  every: 1\n- every: 2\n',
      message: 'fleet.yaml: entry 2: id must be 1-64 of A-Z a-z 0-9 . _ -; got undefined',
    },
    {
      name: 'the same id twice',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n- id: bus\n  every: 5\n',
      message: "fleet.yaml: poller 'bus' is listed twice (entry 2)",
      pollerId: 'bus',
    },
    {
      name: 'an entry that is not a map',
      file: 'fleet.yaml',
      text: '- bus\n',
      message: 'fleet.yaml: entry 1 must be a map of a poller\'s fields; got "bus"',
    },
    {
      name: 'a map instead of the list',
      file: 'fleet.yaml',
      text: 'bus:\n  every: 2\n',
      message:
        'fleet.yaml: must be a list of pollers ([{ id, every, running?, target?, payload?, timezone?, windows? }, …]); got {"bus":{"every":2}}',
    },
    {
      name: 'an empty list',
      file: 'fleet.json',
      text: '[]',
      message: 'fleet.json: lists no pollers',
    },
    {
      name: 'a duplicate key in YAML (no field silently overridden)',
      file: 'fleet.yaml',
      text: '- id: bus\n  every: 2\n  every: 5\n',
      message: 'fleet.yaml: not valid YAML: Map keys must be unique at line 3, column 3:',
    },
    {
      name: 'a duplicate key in JSON (which JSON.parse would silently take the last of)',
      file: 'fleet.json',
      text: '[{"id":"bus","every":2,"every":5}]',
      message: 'fleet.json: not valid JSON: Map keys must be unique at line 1, column 24:',
    },
    {
      name: 'JSON that does not parse',
      file: 'fleet.json',
      text: '[{"id": "bus",}]',
      message: 'fleet.json: not valid JSON:',
    },
    {
      name: 'a file that is neither JSON nor YAML by its name',
      file: 'fleet.txt',
      text: '[]',
      message: 'fleet.txt: must be a .json, .yaml or .yml file; got ".txt"',
    },
  ];

  it.each(refused)('refuses $name', ({ file, text, message, pollerId }) => {
    let thrown: unknown;
    try {
      decodePollerFile(file, text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PollerFileError);
    const error = thrown as PollerFileError;
    expect(error.name).toBe('PollerFileError');
    expect(error.file).toBe(file);
    expect(error.pollerId).toBe(pollerId);
    // Parser messages end with their own position details: the start is ours, and exact.
    if (message.endsWith(':')) expect(error.message.startsWith(message)).toBe(true);
    else expect(error.message).toBe(message);
  });
});

describe('readPollerFile', () => {
  it('reads the committed example fleet', async () => {
    const pollers = await readPollerFile(resolve(import.meta.dirname, '../../../examples/pollers.yaml'));
    expect(pollers.map(({ id, fields }) => [id, fields.waitSeconds, fields.running])).toEqual([
      ['bus-predictions', 30, true],
      ['vehicle-positions', 1, true],
      ['service-alerts', 10, true],
      ['night-timetable', 60, false],
    ]);
  });

  it('names the file it cannot read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'poller-file-'));
    try {
      await expect(readPollerFile(join(dir, 'missing.yaml'))).rejects.toThrow(
        `${join(dir, 'missing.yaml')}: cannot read the file (ENOENT)`,
      );
      await writeFile(join(dir, 'ok.json'), '[{"id":"a","every":1}]');
      await expect(readPollerFile(join(dir, 'ok.json'))).resolves.toEqual([
        { id: 'a', fields: { running: true, waitSeconds: 1 } },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('editMatching', () => {
  it('sets the declared fields and removes the optional ones the file leaves out; running is not an edit', () => {
    const removed = { target: null, payload: null, timeZone: null, windows: null, overlap: null };
    expect(editMatching({ id: 'a', fields: { running: false, waitSeconds: 5 } })).toEqual({
      waitSeconds: 5,
      ...removed,
    });
    expect(
      editMatching({ id: 'a', fields: { running: true, waitSeconds: 1, payload: { url: 'http://x' } } }),
    ).toEqual({ waitSeconds: 1, ...removed, payload: { url: 'http://x' } });
  });
});
