import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Http1Answer, Http1Pool, readAnswer } from '../../../functions/shared/http1-pool';

/** A server that answers each request it reads with `pieces`, written one after another (a write each). */
async function serve(answer: (request: number) => readonly string[]) {
  const connections: Socket[] = [];
  let requests = 0;
  const server: Server = createServer((socket) => {
    connections.push(socket);
    socket.on('data', (data) => {
      if (!data.toString('latin1').includes('\r\n\r\n')) return;
      const pieces = answer(requests++);
      void (async () => {
        for (const piece of pieces) {
          if (piece === 'CLOSE') socket.end();
          else socket.write(piece);
          // Apart, so the client reads them as separate chunks.
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const pool = new Http1Pool({ https: false, host: '127.0.0.1', port });
  return {
    pool,
    connections,
    close: () => {
      pool.destroy();
      for (const socket of connections) socket.destroy();
      server.close();
    },
  };
}

/** One exchange on a connection from the pool; the connection goes back when the answer says it may. */
function exchange(pool: Http1Pool): Promise<Http1Answer & { reusable: boolean }> {
  const socket = pool.take();
  return new Promise((resolve, reject) => {
    readAnswer(
      socket,
      (answer, reusable) => {
        if (reusable) pool.keep(socket);
        else socket.destroy();
        resolve({ ...answer, reusable });
      },
      reject,
    );
    socket.write('POST / HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\n{}');
  });
}

let close = () => {};
afterEach(() => close());

/** One exchange with a server that answers it with `pieces`. */
async function answerTo(pieces: readonly string[]): Promise<Http1Answer & { reusable: boolean }> {
  const server = await serve(() => pieces);
  close = server.close;
  return exchange(server.pool);
}

describe('readAnswer', () => {
  it('reads an answer by its Content-Length, split across reads, headers named in lower case', async () => {
    // prepare
    const pieces = [
      'HTTP/1.1 200 OK\r\nX-Amz-Function-Error: Unhandled\r\nContent-',
      'Length: 21\r\n\r\n{"errorType":',
      '"Error"}',
    ];

    // act
    const answer = await answerTo(pieces);

    // assess
    expect(answer.status).toBe(200);
    expect(answer.headers['x-amz-function-error']).toBe('Unhandled');
    expect(answer.body.toString()).toBe('{"errorType":"Error"}');
    expect(answer.reusable).toBe(true);
  });

  it('reads a chunked answer, its sizes (with an extension) and data split across reads, with trailers', async () => {
    // prepare
    const pieces = [
      'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n',
      '5\r\nhel',
      'lo\r\n9;ext=1\r\n, world.',
      '.\r\n0\r\nX-Trailer: t',
      '\r\n\r\n',
    ];

    // act
    const answer = await answerTo(pieces);

    // assess
    expect(answer.status).toBe(404);
    expect(answer.body.toString()).toBe('hello, world..');
    expect(answer.reusable).toBe(true);
  });

  it('reads a body without a length up to the close, and does not keep that connection', async () => {
    // prepare
    const pieces = ['HTTP/1.1 202 Accepted\r\n\r\npart one, ', 'part two', 'CLOSE'];

    // act
    const answer = await answerTo(pieces);

    // assess
    expect(answer.body.toString()).toBe('part one, part two');
    expect(answer.reusable).toBe(false);
  });

  it.each([
    [
      'says it closes (in any case)',
      'HTTP/1.1 202 Accepted\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n',
    ],
    ['is HTTP/1.0', 'HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n'],
  ])('does not keep a connection whose answer %s', async (_case, answerText) => {
    // prepare
    const pieces = [answerText];

    // act
    const answer = await answerTo(pieces);

    // assess
    expect(answer.status).toBe(202);
    expect(answer.reusable).toBe(false);
  });

  it('reads a chunk of a megabyte that arrives in many reads', async () => {
    // prepare: a synchronous call's payload, as one chunk written in 64 KB pieces
    const payload = 'x'.repeat(1 << 20);
    const pieces = ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n'];
    for (let at = 0; at < payload.length; at += 1 << 16) pieces.push(payload.slice(at, at + (1 << 16)));
    pieces.push('\r\n0\r\n\r\n');

    // act
    const answer = await answerTo(pieces);

    // assess
    expect(answer.body.length).toBe(payload.length);
    expect(answer.body.toString()).toBe(payload);
  });

  it('skips an interim 100 Continue, and reads a 204 (a DryRun answer) as bodiless without waiting for a close', async () => {
    // prepare
    const pieces = ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 204 No Content\r\nX-Id: 1\r\n\r\n'];

    // act
    const answer = await answerTo(pieces);

    // assess
    expect(answer.status).toBe(204);
    expect(answer.headers['x-id']).toBe('1');
    expect(answer.body).toHaveLength(0);
    expect(answer.reusable).toBe(true);
  });

  it.each([
    [
      'a Content-Length that is not a length',
      ['HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nabc'],
      /content-length 12abc/,
    ],
    ['a status line that is not HTTP/1.1', ['SSH-2.0-OpenSSH\r\n\r\n'], /not an HTTP\/1\.1 answer: SSH-2\.0/],
    [
      'a chunk size that is not hex',
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
      /chunk size zz/,
    ],
    [
      'a chunk whose data does not end with CRLF',
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n'],
      /no CRLF after a chunk/,
    ],
    [
      'a connection closed before the body was whole',
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 'CLOSE'],
      /closed before the answer was complete/,
    ],
  ])('fails on %s', async (_case, pieces, message) => {
    // act
    const outcome = answerTo(pieces);

    // assess
    await expect(outcome).rejects.toThrow(message);
  });
});

describe('Http1Pool', () => {
  it('sends the next exchange on the kept connection', async () => {
    // prepare
    const server = await serve(() => ['HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n']);
    close = server.close;

    // act
    await exchange(server.pool);
    await exchange(server.pool);
    await exchange(server.pool);

    // assess
    expect(server.connections).toHaveLength(1);
  });

  it('drops a kept connection the server closes while idle, and opens a new one for the next exchange', async () => {
    // prepare
    const server = await serve(() => ['HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n']);
    close = server.close;
    await exchange(server.pool);

    // act: the server ends the idle connection (as an endpoint's idle timeout does)
    server.connections[0]?.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const answer = await exchange(server.pool);

    // assess
    expect(answer.status).toBe(202);
    expect(server.connections).toHaveLength(2);
  });
});
