import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FIELD } from '../../../functions/shared/contract';
import { decodePollerItem, type RawItem } from '../../../functions/shared/control-item';
import type { ControlItemStore } from '../../../functions/shared/control-item-store';
import {
  type GenerationTake,
  type RoundRecord,
  replacedFieldsMessage,
  type WriteGuard,
} from '../../../functions/shared/control-table';
import { ControlTableUnavailableError } from '../../../functions/shared/errors';

/** A store under contract, with the operator's side: raw items put and read as the console would. */
export interface StoreUnderContract {
  readonly store: ControlItemStore;
  put(pollerId: string, fields: RawItem): Promise<void>;
  image(pollerId: string): Promise<RawItem | undefined>;
  /** The same kind of store, unable to reach its table. */
  unreachable(): Promise<ControlItemStore>;
}

const AT = '2030-01-01T00:00:00.000Z';
const LATER = '2030-01-01T00:00:05.000Z';
const OPERATOR_FIELDS: RawItem = {
  [FIELD.running]: { BOOL: true },
  [FIELD.waitSeconds]: { N: '0.1' },
  [FIELD.target]: { S: 'my-worker' },
  [FIELD.payload]: { M: { url: { S: 'https://example.com' } } },
};
/** A loop of generation 3 that claimed through seq 20, as a round finds it. */
const LOOP: RawItem = {
  ...OPERATOR_FIELDS,
  [FIELD.generation]: { N: '3' },
  [FIELD.claimedSeq]: { N: '20' },
  [FIELD.seq]: { N: '17' },
  [FIELD.heartbeatAt]: { S: AT },
  [FIELD.executionArn]: { S: 'exec-3' },
  [FIELD.skippedTicks]: { N: '2' },
};

/** What takeOf's take writes on the item. */
const TAKEN_BY_EXEC_4: RawItem = {
  [FIELD.generation]: { N: '4' },
  [FIELD.executionArn]: { S: 'exec-4' },
  [FIELD.heartbeatAt]: { S: LATER },
};

/** The fields, but for one. */
const without = (fields: RawItem, field: string): RawItem =>
  Object.fromEntries(Object.entries(fields).filter(([name]) => name !== field));

const takeOf = (
  expected: GenerationTake['expected'],
  extra: Partial<GenerationTake> = {},
): GenerationTake => ({
  generation: 4,
  expected,
  executionArn: 'exec-4',
  at: LATER,
  ...extra,
});
const guard = (extra: Partial<WriteGuard> = {}): WriteGuard => ({ generation: 3, ...extra });
const heartbeat: RoundRecord = { heartbeatAt: LATER };

/**
 * The behaviour the controller relies on from its control-item store (ControlItemStore): every condition of a
 * take and of a round's write, refused and accepted, and what each write leaves on the item. Run against
 * ControlTable on dynalite and against the in-memory store of the unit tests: a difference fails one of them.
 */
export function describeControlStoreContract(name: string, open: () => Promise<StoreUnderContract>): void {
  describe(`ControlItemStore contract: ${name}`, () => {
    let subject: StoreUnderContract;
    let pollerId: string;
    let counter = 0;

    beforeAll(async () => {
      subject = await open();
    });

    beforeEach(() => {
      counter += 1;
      pollerId = `contract-${counter}`;
    });

    /** Puts `fields`, runs `act`, and returns its outcome with the item as it is afterwards. */
    async function outcomeOf<T>(fields: RawItem | undefined, act: (store: ControlItemStore) => Promise<T>) {
      if (fields !== undefined) await subject.put(pollerId, fields);
      const outcome = await act(subject.store);
      return { outcome, image: await subject.image(pollerId) };
    }
    const withId = (fields: RawItem): RawItem => ({ [FIELD.id]: { S: pollerId }, ...fields });

    describe('an unreachable table', () => {
      it('fails a read with ControlTableUnavailableError and a write with the cause, unwrapped', async () => {
        const store = await subject.unreachable();

        await expect(store.read(pollerId)).rejects.toBeInstanceOf(ControlTableUnavailableError);
        await expect(store.read(pollerId)).rejects.toMatchObject({ pollerId });
        const take = store.takeGeneration(
          pollerId,
          takeOf({ generation: undefined, heartbeatAt: undefined }),
        );
        await expect(take).rejects.toThrow(/ECONNREFUSED/);
        await expect(take).rejects.not.toBeInstanceOf(ControlTableUnavailableError);
        const record = store.recordRound(pollerId, heartbeat, guard());
        await expect(record).rejects.toThrow(/ECONNREFUSED/);
        await expect(record).rejects.not.toBeInstanceOf(ControlTableUnavailableError);
      });
    });

    describe('read', () => {
      it('reads a missing item as undefined', async () => {
        expect(await subject.store.read(pollerId)).toBeUndefined();
      });

      it('reads an item decoded', async () => {
        await subject.put(pollerId, LOOP);

        expect(await subject.store.read(pollerId)).toEqual(decodePollerItem(pollerId, withId(LOOP)));
      });
    });

    describe('takeGeneration', () => {
      it('refuses a missing item as missing, creating none', async () => {
        const { outcome, image } = await outcomeOf(undefined, (store) =>
          store.takeGeneration(pollerId, takeOf({ generation: undefined, heartbeatAt: undefined })),
        );

        expect(outcome).toEqual({ kind: 'missing' });
        expect(image).toBeUndefined();
      });

      it.each([
        ['running is false', { ...LOOP, [FIELD.running]: { BOOL: false } }],
        ['running is missing', without(LOOP, FIELD.running)],
        ['the generation moved on', { ...LOOP, [FIELD.generation]: { N: '5' } }],
        ['the generation is gone', without(LOOP, FIELD.generation)],
        ['the heartbeat moved on', { ...LOOP, [FIELD.heartbeatAt]: { S: LATER } }],
        ['the heartbeat is gone', without(LOOP, FIELD.heartbeatAt)],
      ])('refuses when %s, as changed with the item as it is, unchanged', async (_, fields: RawItem) => {
        const { outcome, image } = await outcomeOf(fields, (store) =>
          store.takeGeneration(pollerId, takeOf({ generation: 3, heartbeatAt: AT })),
        );

        expect(outcome).toEqual({ kind: 'changed', item: decodePollerItem(pollerId, withId(fields)) });
        expect(image).toEqual(withId(fields));
      });

      it.each([
        ['a generation', { [FIELD.generation]: { N: '3' } }],
        ['a heartbeat', { [FIELD.heartbeatAt]: { S: AT } }],
      ])('refuses to take a first generation when the item has %s', async (_, extra: RawItem) => {
        const fields = { ...OPERATOR_FIELDS, ...extra };
        const { outcome, image } = await outcomeOf(fields, (store) =>
          store.takeGeneration(pollerId, takeOf({ generation: undefined, heartbeatAt: undefined })),
        );

        expect(outcome).toMatchObject({ kind: 'changed' });
        expect(image).toEqual(withId(fields));
      });

      it('takes the first generation of an item no loop ran on', async () => {
        const { outcome, image } = await outcomeOf(OPERATOR_FIELDS, (store) =>
          store.takeGeneration(pollerId, takeOf({ generation: undefined, heartbeatAt: undefined })),
        );

        expect(outcome).toEqual({ kind: 'taken' });
        expect(image).toEqual(
          withId({
            ...OPERATOR_FIELDS,
            ...TAKEN_BY_EXEC_4,
          }),
        );
      });

      it('takes the generation and heartbeat it expected, clearing the stop reason, nothing else', async () => {
        const { outcome, image } = await outcomeOf(
          { ...LOOP, [FIELD.stoppedReason]: { S: 'running is false' } },
          (store) => store.takeGeneration(pollerId, takeOf({ generation: 3, heartbeatAt: AT })),
        );

        expect(outcome).toEqual({ kind: 'taken' });
        expect(image).toEqual(
          withId({
            ...LOOP,
            ...TAKEN_BY_EXEC_4,
          }),
        );
      });

      it.each([
        ['S "3"', { S: '3' }],
        ['N "2.5"', { N: '2.5' }],
        ['N "0"', { N: '0' }],
      ])(
        'takes over a corrupt generation (%s) only as read, replacing it and recording why',
        async (_, stored) => {
          const fields = { ...LOOP, [FIELD.generation]: stored };
          const read = decodePollerItem(pollerId, withId(fields));
          const expected = {
            generation: undefined,
            heartbeatAt: AT,
            corrupt: [...read.corruptFields.values()],
          };
          const take = takeOf(expected);
          const changedSince = { ...LOOP, [FIELD.generation]: { S: '7' } };

          const refused = await outcomeOf(changedSince, (store) => store.takeGeneration(pollerId, take));
          const { outcome, image } = await outcomeOf(fields, (store) => store.takeGeneration(pollerId, take));

          expect(refused.outcome).toMatchObject({ kind: 'changed' });
          expect(refused.image).toEqual(withId(changedSince));
          expect(outcome).toEqual({ kind: 'taken' });
          expect(image).toEqual(
            withId({
              ...LOOP,
              ...TAKEN_BY_EXEC_4,
              [FIELD.lastError]: {
                M: { message: { S: replacedFieldsMessage(take) ?? '' }, at: { S: LATER } },
              },
            }),
          );
        },
      );

      it('removes the old loop’s next tick (its grid is not the new loop’s), keeping its claim and last tick', async () => {
        const oldLoop = {
          ...LOOP,
          [FIELD.nextTickAt]: { S: '2029-12-31T23:59:58.000Z' },
          [FIELD.lastTickAt]: { S: '2029-12-31T23:59:57.000Z' },
        };

        const { outcome, image } = await outcomeOf(oldLoop, (store) =>
          store.takeGeneration(pollerId, takeOf({ generation: 3, heartbeatAt: AT })),
        );

        expect(outcome).toEqual({ kind: 'taken' });
        expect(image).toEqual(withId({ ...without(oldLoop, FIELD.nextTickAt), ...TAKEN_BY_EXEC_4 }));
      });

      it('counts a restart and records its reason, cut to 1,000 characters', async () => {
        const { image } = await outcomeOf({ ...LOOP, [FIELD.restarts]: { N: '2' } }, (store) =>
          store.takeGeneration(
            pollerId,
            takeOf({ generation: 3, heartbeatAt: AT }, { restartReason: 'x'.repeat(1_200) }),
          ),
        );

        expect(image?.[FIELD.restarts]).toEqual({ N: '3' });
        expect(image?.[FIELD.lastRestartAt]).toEqual({ S: LATER });
        expect(image?.[FIELD.lastRestartReason]).toEqual({ S: 'x'.repeat(1_000) });
      });

      it('counts the first restart from none', async () => {
        const { image } = await outcomeOf(LOOP, (store) =>
          store.takeGeneration(
            pollerId,
            takeOf({ generation: 3, heartbeatAt: AT }, { restartReason: 'dead' }),
          ),
        );

        expect(image?.[FIELD.restarts]).toEqual({ N: '1' });
      });
    });

    describe('recordRound', () => {
      it('refuses a missing item as missing, creating none', async () => {
        const { outcome, image } = await outcomeOf(undefined, (store) =>
          store.recordRound(pollerId, heartbeat, guard()),
        );

        expect(outcome).toBe('missing');
        expect(image).toBeUndefined();
      });

      it('writes nothing, and refuses nothing, for a record with nothing in it', async () => {
        const { outcome, image } = await outcomeOf(undefined, (store) =>
          store.recordRound(pollerId, {}, guard()),
        );

        expect(outcome).toBe('written');
        expect(image).toBeUndefined();
      });

      it.each([
        ['another generation', LOOP, guard({ generation: 2 })],
        ['no generation', OPERATOR_FIELDS, guard()],
        ['running is true and the write is for a stop', LOOP, guard({ whileNotRunning: true })],
        ['another claim', LOOP, guard({ claimedSeq: 15 })],
        ['no claim', OPERATOR_FIELDS, guard({ claimedSeq: 15 })],
      ])(
        'refuses an item with %s as superseded, unchanged',
        async (_, fields: RawItem, writeGuard: WriteGuard) => {
          const { outcome, image } = await outcomeOf(fields, (store) =>
            store.recordRound(pollerId, { ...heartbeat, stoppedReason: 'stop' }, writeGuard),
          );

          expect(outcome).toBe('superseded');
          expect(image).toEqual(withId(fields));
        },
      );

      it.each([
        ['its generation', LOOP, guard()],
        ['its claim', LOOP, guard({ claimedSeq: 20 })],
        [
          'running false, for a stop',
          { ...LOOP, [FIELD.running]: { BOOL: false } },
          guard({ whileNotRunning: true }),
        ],
        ['running missing, for a stop', without(LOOP, FIELD.running), guard({ whileNotRunning: true })],
      ])('writes while the item still has %s', async (_, fields: RawItem, writeGuard: WriteGuard) => {
        const { outcome, image } = await outcomeOf(fields, (store) =>
          store.recordRound(pollerId, heartbeat, writeGuard),
        );

        expect(outcome).toBe('written');
        expect(image).toEqual(withId({ ...fields, [FIELD.heartbeatAt]: { S: LATER } }));
      });

      it('sets every field of a record, adds the counters and cuts the error message, leaving operator fields', async () => {
        const record: RoundRecord = {
          seq: 21,
          claimedSeq: 25,
          heartbeatAt: LATER,
          lastTickAt: AT,
          nextTickAt: LATER,
          executionArn: 'exec-3b',
          lastError: { message: 'e'.repeat(1_500), at: LATER },
          stoppedReason: 'running is false',
          skippedTicksAdded: 3,
          failedFiresAdded: 2,
          overlapSkipsAdded: 4,
          lastFinishedSeq: 20,
          lastFireMs: 1_503,
        };

        const { outcome, image } = await outcomeOf(LOOP, (store) =>
          store.recordRound(pollerId, record, guard()),
        );

        expect(outcome).toBe('written');
        expect(image).toEqual(
          withId({
            ...LOOP,
            [FIELD.seq]: { N: '21' },
            [FIELD.claimedSeq]: { N: '25' },
            [FIELD.heartbeatAt]: { S: LATER },
            [FIELD.lastTickAt]: { S: AT },
            [FIELD.nextTickAt]: { S: LATER },
            [FIELD.executionArn]: { S: 'exec-3b' },
            [FIELD.lastError]: { M: { message: { S: 'e'.repeat(1_000) }, at: { S: LATER } } },
            [FIELD.stoppedReason]: { S: 'running is false' },
            [FIELD.skippedTicks]: { N: '5' },
            [FIELD.failedFires]: { N: '2' },
            [FIELD.overlapSkips]: { N: '4' },
            [FIELD.lastFinishedSeq]: { N: '20' },
            [FIELD.lastFireMs]: { N: '1503' },
          }),
        );
      });

      it('removes the stop reason for a null one', async () => {
        const { image } = await outcomeOf({ ...LOOP, [FIELD.stoppedReason]: { S: 'old' } }, (store) =>
          store.recordRound(pollerId, { ...heartbeat, stoppedReason: null }, guard()),
        );

        expect(image).toEqual(withId({ ...LOOP, [FIELD.heartbeatAt]: { S: LATER } }));
      });

      it('writes a removal alone', async () => {
        const { outcome, image } = await outcomeOf(
          { ...LOOP, [FIELD.stoppedReason]: { S: 'old' } },
          (store) => store.recordRound(pollerId, { stoppedReason: null }, guard()),
        );

        expect(outcome).toBe('written');
        expect(image).toEqual(withId(LOOP));
      });
    });
  });
}
