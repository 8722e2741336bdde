import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { createLambdaClient, localClientOptions } from '../../functions/shared/aws-clients';
import type { WorkerEvent } from '../../functions/shared/contract';
import { InvokeApi } from '../../functions/shared/lambda-invoke-api';
import { fireWorker } from '../../functions/shared/worker-invoker';

/**
 * `npx tsx scripts/bench/send-path-probe.ts [N]`: the CPU one asynchronous Invoke costs, through the SDK's Invoke
 * pipeline (InvokeCommand on the client functions/shared/aws-clients.ts builds) and through the controller's send
 * path (fireWorker on InvokeApi: the same client's signer, a hand-built request on a kept-alive agent), against a
 * local endpoint answering 202 in the same process (its share is the same in both). Why the controller has its
 * own send path (docs/design/fleet.md, "Measured"), not a target: a shard's capacity per GB-s follows its CPU per
 * fire. CPU time, so the figures hold under any CPU quota; a 1,024 MB Lambda stretches them by about 1 / 0.58.
 */

const REGION = 'us-east-1';
const CREDENTIALS = {
  accessKeyId: 'AKIDPROBE',
  secretAccessKey: 'probe-secret',
  sessionToken: 'probe-token',
};
const WARM_UP = 300;

const tick = (seq: number): WorkerEvent => ({ pollerId: 'p001', seq, scheduledAt: new Date().toISOString() });

async function cpuPerCall(count: number, send: (seq: number) => Promise<void>): Promise<number> {
  for (let seq = 0; seq < WARM_UP; seq++) await send(seq);
  const before = process.cpuUsage();
  for (let seq = 0; seq < count; seq++) await send(seq);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / count;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 3_000);
  if (!Number.isSafeInteger(count) || count < 1)
    throw new Error(`N must be a whole number from 1; got ${process.argv[2]}`);
  const server = createServer((incoming, answer) => {
    incoming.resume();
    incoming.on('end', () => answer.writeHead(202, { 'content-length': '0' }).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;

  const client = createLambdaClient({
    ...localClientOptions(endpoint, 1),
    region: REGION,
    credentials: CREDENTIALS,
  });
  const viaSdk = await cpuPerCall(count, async (seq) => {
    await client.send(
      new InvokeCommand({
        FunctionName: 'worker',
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(tick(seq))),
      }),
    );
  });
  const api = new InvokeApi(client);
  const viaInvokeApi = await cpuPerCall(count, async (seq) => {
    await fireWorker(api, 'worker', tick(seq));
  });
  console.log(`CPU per asynchronous Invoke (${count} calls, endpoint in the same process):`);
  console.log(`  SDK Invoke pipeline (InvokeCommand):     ${viaSdk.toFixed(3)} ms`);
  console.log(`  the controller's send path (InvokeApi):  ${viaInvokeApi.toFixed(3)} ms`);
  api.destroy();
  client.destroy();
  server.close();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
