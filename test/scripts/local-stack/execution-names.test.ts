import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExecutionAlreadyExists,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { localClientOptions } from '../../../functions/shared/aws-clients';
import { createSfnClient } from '../../../functions/shared/sfn-client';
import {
  EXECUTION_NAME_RETENTION_MS,
  ExecutionNames,
  ExecutionNamesFileError,
} from '../../../scripts/local-stack/execution-names';
import { LOCAL_STATE_MACHINE_NAME } from '../../../scripts/local-stack/local-endpoints';
import { type LocalStack, startLocalStack } from '../../../scripts/local-stack/local-stack';

/**
 * StartExecution's rules for names on the local stack, through the real SFN client: a name is refused for 90 days
 * after any execution used it, running or closed, except that the same name and input while it runs returns
 * that execution. The `default` poller is seeded with running=true, so an execution for it keeps running.
 */
const DAY_MS = 24 * 60 * 60 * 1000;
const dataDirs: string[] = [];
const newDataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'execution-names-'));
  dataDirs.push(dir);
  return dir;
};
const namesFile = (dataDir: string) =>
  join(dataDir, 'step-functions', `${LOCAL_STATE_MACHINE_NAME}.names.json`);

let stack: LocalStack | undefined;
let sfn: SFNClient | undefined;

async function start(dataDir?: string): Promise<SFNClient> {
  stack = await startLocalStack({ port: 0, startLoops: false, ...(dataDir ? { dataDir } : {}) });
  sfn = createSfnClient(localClientOptions(stack.servicesEndpoint, 1));
  return sfn;
}

async function stop(): Promise<void> {
  sfn?.destroy();
  await stack?.stop();
  sfn = undefined;
  stack = undefined;
}

const startCommand = (name: string, input: string) =>
  new StartExecutionCommand({ stateMachineArn: stack?.stateMachineArn ?? '', name, input });

afterEach(stop);
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe('local StartExecution: execution names', () => {
  it('returns the running execution itself for the same name and the same input', async () => {
    // prepare
    const client = await start();
    const input = JSON.stringify({ pollerId: 'default', generation: 1 });
    const first = await client.send(startCommand('default-g1', input));

    // act
    const again = await client.send(startCommand('default-g1', input));

    // assess
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate).toEqual(first.startDate);
    expect(stack?.stepFunctions.listExecutions()).toHaveLength(1);
  });

  it('refuses the name of a running execution with another input', async () => {
    // prepare
    const client = await start();
    await client.send(startCommand('default-g1', JSON.stringify({ pollerId: 'default', generation: 1 })));

    // act
    const refused = client.send(
      startCommand('default-g1', JSON.stringify({ pollerId: 'default', generation: 2 })),
    );

    // assess
    await expect(refused).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await expect(refused).rejects.toThrow(/Execution Already Exists: 'arn:aws:states:.*:default-g1'/);
  });

  it('refuses the name of a closed execution, even with the same input', async () => {
    // prepare
    const client = await start();
    const input = JSON.stringify({ pollerId: 'default', generation: 1 });
    const first = await client.send(startCommand('default-g1', input));
    await client.send(new StopExecutionCommand({ executionArn: first.executionArn }));

    // act / assess
    await expect(client.send(startCommand('default-g1', input))).rejects.toBeInstanceOf(
      ExecutionAlreadyExists,
    );
  });

  it('still refuses a name after the local stack is started again on the same data', async () => {
    // prepare
    const dataDir = newDataDir();
    const input = JSON.stringify({ pollerId: 'default', generation: 1 });
    await (await start(dataDir)).send(startCommand('default-g1', input));
    await stop();

    // act
    const client = await start(dataDir);
    const refused = client.send(startCommand('default-g1', input));
    const fresh = client.send(
      startCommand('default-g2', JSON.stringify({ pollerId: 'default', generation: 2 })),
    );

    // assess
    await expect(refused).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await expect(fresh).resolves.toMatchObject({ executionArn: expect.stringContaining(':default-g2') });
    expect(Object.keys(JSON.parse(readFileSync(namesFile(dataDir), 'utf8')))).toEqual([
      'default-g1',
      'default-g2',
    ]);
  });

  it('frees names used more than 90 days ago, and only those', async () => {
    // prepare
    const dataDir = newDataDir();
    mkdirSync(join(dataDir, 'step-functions'), { recursive: true });
    const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
    writeFileSync(
      namesFile(dataDir),
      JSON.stringify({
        'default-g1': ago(EXECUTION_NAME_RETENTION_MS + DAY_MS),
        'default-g2': ago(89 * DAY_MS),
      }),
    );

    // act
    const client = await start(dataDir);
    const reused = client.send(
      startCommand('default-g1', JSON.stringify({ pollerId: 'default', generation: 1 })),
    );
    const refused = client.send(
      startCommand('default-g2', JSON.stringify({ pollerId: 'default', generation: 2 })),
    );

    // assess
    await expect(reused).resolves.toMatchObject({ executionArn: expect.stringContaining(':default-g1') });
    await expect(refused).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });
});

describe('ExecutionNames', () => {
  it('names the file and the bad entry when a start time is not a timestamp', () => {
    // prepare
    const path = join(newDataDir(), 'names.json');
    writeFileSync(path, JSON.stringify({ 'default-g1': 'yesterday' }));

    // act / assess
    expect(() => ExecutionNames.persisted(path)).toThrow(ExecutionNamesFileError);
    expect(() => ExecutionNames.persisted(path)).toThrow(`'${path}'`);
    expect(() => ExecutionNames.persisted(path)).toThrow(/'default-g1'.*"yesterday"/);
  });

  it('forgets a name once its 90 days are over, on a simulated clock', () => {
    // prepare
    let nowMs = Date.parse('2030-01-01T00:00:00Z');
    const names = ExecutionNames.inMemory(() => nowMs);
    names.record('default-g1', nowMs);

    // act
    nowMs += EXECUTION_NAME_RETENTION_MS - 1;
    const stillUsed = names.startedAt('default-g1');
    nowMs += 1;
    const freed = names.startedAt('default-g1');

    // assess
    expect(stillUsed).toBe(Date.parse('2030-01-01T00:00:00Z'));
    expect(freed).toBeUndefined();
  });
});
