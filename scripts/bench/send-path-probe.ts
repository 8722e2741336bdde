import { createHash, createHmac } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { createLambdaClient, localClientOptions } from '../../functions/shared/aws-clients';

/**
 * `npx tsx scripts/bench/send-path-probe.ts [N]`: the CPU one asynchronous Invoke costs the controller, through
 * the SDK client it uses (functions/shared/aws-clients.ts) and through a hand-signed request (SigV4 with
 * node:crypto, a kept-alive http.Agent), against a local endpoint answering 202 in the same process (its share is
 * the same in both). A probe for the fleet's next lever (docs/design/fleet.md, "Measured"), not a target: the
 * shard's capacity per GB-s follows its CPU per fire. CPU time, so the figures hold under any CPU quota; a 1,024 MB
 * Lambda stretches them by about 1 / 0.58 in wall time.
 */

const REGION = 'us-east-1';
const CREDENTIALS = {
  accessKeyId: 'AKIDPROBE',
  secretAccessKey: 'probe-secret',
  sessionToken: 'probe-token',
};
const WARM_UP = 300;

const tickEvent = (seq: number) =>
  JSON.stringify({ pollerId: 'p001', seq, scheduledAt: new Date().toISOString() });

async function cpuPerCall(count: number, send: (seq: number) => Promise<void>): Promise<number> {
  for (let seq = 0; seq < WARM_UP; seq++) await send(seq);
  const before = process.cpuUsage();
  for (let seq = 0; seq < count; seq++) await send(seq);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / count;
}

const sha256Hex = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** One Event Invoke signed by hand: the request shape Lambda's API takes, as the SDK would send it. */
function handSignedInvoker(port: number, agent: Agent): (seq: number) => Promise<void> {
  const host = `127.0.0.1:${port}`;
  const path = '/2015-03-31/functions/worker/invocations';
  const signedHeaders = 'host;x-amz-content-sha256;x-amz-date;x-amz-invocation-type;x-amz-security-token';
  let signingDay = '';
  let signingKey = Buffer.alloc(0);
  return (seq) => {
    const body = tickEvent(seq);
    const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    if (day !== signingDay) {
      const dated = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, day);
      signingKey = hmac(hmac(hmac(dated, REGION), 'lambda'), 'aws4_request');
      signingDay = day;
    }
    const bodyHash = sha256Hex(body);
    const canonical = [
      'POST',
      path,
      '',
      `host:${host}`,
      `x-amz-content-sha256:${bodyHash}`,
      `x-amz-date:${amzDate}`,
      'x-amz-invocation-type:Event',
      `x-amz-security-token:${CREDENTIALS.sessionToken}`,
      '',
      signedHeaders,
      bodyHash,
    ].join('\n');
    const scope = `${day}/${REGION}/lambda/aws4_request`;
    const signature = createHmac('sha256', signingKey)
      .update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`)
      .digest('hex');
    return new Promise<void>((resolve, reject) => {
      const sent = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path,
          agent,
          headers: {
            host,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'x-amz-content-sha256': bodyHash,
            'x-amz-date': amzDate,
            'x-amz-invocation-type': 'Event',
            'x-amz-security-token': CREDENTIALS.sessionToken,
            authorization: `AWS4-HMAC-SHA256 Credential=${CREDENTIALS.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
          },
        },
        (response) => {
          response.resume();
          response.on('end', () =>
            response.statusCode === 202 ? resolve() : reject(new Error(`answered ${response.statusCode}`)),
          );
        },
      );
      sent.on('error', reject);
      sent.end(body);
    });
  };
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
        Payload: Buffer.from(tickEvent(seq)),
      }),
    );
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const byHand = await cpuPerCall(count, handSignedInvoker(port, agent));
  console.log(`CPU per asynchronous Invoke (${count} calls, endpoint in the same process):`);
  console.log(`  SDK client (the controller's): ${viaSdk.toFixed(3)} ms`);
  console.log(`  hand-signed request:           ${byHand.toFixed(3)} ms`);
  client.destroy();
  agent.destroy();
  server.close();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
