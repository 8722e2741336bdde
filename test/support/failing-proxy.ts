import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A proxy in front of dynalite that answers the calls `fails` picks (1 for the first) with DynamoDB's
 * InternalServerError, as the service does, and passes the others through.
 */
export async function failingProxy(
  target: string,
  fails: (call: number) => boolean,
): Promise<{ endpoint: string; calls(): number; close(): Promise<void> }> {
  const to = new URL(target);
  let calls = 0;
  const server: Server = createServer((incoming, outgoing) => {
    calls += 1;
    if (fails(calls)) {
      incoming.resume();
      outgoing.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' }).end(
        JSON.stringify({
          __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
          message: 'injected',
        }),
      );
      return;
    }
    const forwarded = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        path: incoming.url,
        method: incoming.method,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
