import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * Kept-alive HTTP/1.1 connections to one origin, and the one exchange a tick needs on them: a request written in
 * one piece, its answer read back. Node's HTTP client allocated ~25 KB an exchange (ClientRequest, its header map,
 * the agent's bookkeeping, IncomingMessage); an exchange here, InvokeApi's part included, ~14 KB, and a small shard controller pays for garbage in
 * collections on the tick path (docs/design/fleet.md, "Measured").
 */

export interface Origin {
  readonly https: boolean;
  readonly host: string;
  readonly port: number;
}

/** An answer: its status, its headers (lower-case names) and its body. */
export interface Http1Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export class Http1Pool {
  readonly #origin: Origin;
  /** Idle connections, each with the listener that drops it when it closes, errs or talks while idle. */
  readonly #idle: { readonly socket: Socket; readonly drop: () => void }[] = [];
  readonly #all = new Set<Socket>();
  /** Connections whose request, once written, can reach the server: TCP connected, and the TLS handshake done. */
  readonly #connected = new WeakSet<Socket>();
  /** The last TLS session, resumed by the next connection (a full handshake is milliseconds of a throttled CPU). */
  #session: Buffer | undefined;

  constructor(origin: Origin) {
    this.#origin = origin;
  }

  /** An idle connection, or a new one (still connecting: writes wait for it). */
  take(): Socket {
    const kept = this.#idle.pop();
    if (kept !== undefined) {
      for (const event of IDLE_EVENTS) kept.socket.removeListener(event, kept.drop);
      return kept.socket.ref();
    }
    const { https, host, port } = this.#origin;
    const socket = https
      ? connectTls({ host, port, servername: isIP(host) ? undefined : host, session: this.#session }).on(
          'session',
          (session: Buffer) => (this.#session = session),
        )
      : connectTcp({ host, port });
    socket.setNoDelay(true);
    socket.once(https ? 'secureConnect' : 'connect', () => this.#connected.add(socket));
    this.#all.add(socket);
    socket.once('close', () => this.#all.delete(socket));
    return socket;
  }

  /**
   * Whether what is written on `socket` now can reach the server; if not yet, `then` is called once it can (TCP
   * connected and, over TLS, the handshake done: before that, a write waits in the socket and goes nowhere).
   */
  whenConnected(socket: Socket, then: () => void): boolean {
    if (this.#connected.has(socket)) return true;
    socket.once(this.#origin.https ? 'secureConnect' : 'connect', then);
    return false;
  }

  /** Back to the pool once its answer was read whole. */
  keep(socket: Socket): void {
    if (socket.destroyed) return;
    const drop = () => {
      for (const event of IDLE_EVENTS) socket.removeListener(event, drop);
      socket.destroy();
      const index = this.#idle.findIndex((idle) => idle.socket === socket);
      if (index >= 0) this.#idle.splice(index, 1);
    };
    for (const event of IDLE_EVENTS) socket.on(event, drop);
    // An idle connection does not keep a script's event loop alive (a frozen Lambda sandbox has none running).
    this.#idle.push({ socket: socket.unref(), drop });
  }

  destroy(): void {
    for (const socket of this.#all) socket.destroy();
    this.#idle.length = 0;
  }
}

const IDLE_EVENTS = ['close', 'error', 'end', 'data'] as const;
const NOTHING: Buffer = Buffer.alloc(0);

/**
 * Reads one answer from `socket`: calls `done` with it (and whether the connection may be kept), or `fail` when the
 * connection errs, closes first or answers what is not HTTP/1.1. Bodies by Content-Length, chunked, or up to the
 * close.
 */
export function readAnswer(
  socket: Socket,
  done: (answer: Http1Answer, reusable: boolean) => void,
  fail: (error: Error) => void,
): void {
  let pending = NOTHING;
  let head: { status: number; headers: Record<string, string>; keepAlive: boolean } | undefined;
  const body: Buffer[] = [];
  /** Bytes of body (of the current chunk, when chunked) still expected; -1 while reading up to the close. */
  let remaining = 0;
  let chunked = false;
  /** Chunked: the CRLF that ends a chunk's data is still to come. */
  let chunkEndDue = false;
  const detach = () =>
    socket.removeListener('data', onData).removeListener('error', fail).removeListener('close', onClose);
  const finish = (reusable: boolean) => {
    detach();
    if (head) done({ status: head.status, headers: head.headers, body: Buffer.concat(body) }, reusable);
  };
  const malformed = (what: string) => {
    detach();
    fail(new Error(`not an HTTP/1.1 answer: ${what}`));
  };
  const onClose = () => {
    if (head && remaining < 0) finish(false);
    else fail(new Error('connection closed before the answer was complete'));
  };
  /** Moves what `pending` holds of the body expected into it (no copy). */
  const takeBody = () => {
    const taken = pending.subarray(0, remaining);
    body.push(taken);
    remaining -= taken.length;
    pending = pending.subarray(taken.length);
  };
  const onData = (data: Buffer) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    while (head === undefined) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = pending.subarray(0, end).toString('latin1').split('\r\n');
      pending = pending.subarray(end + 4);
      const [, version, code] = /^HTTP\/1\.([01]) ([1-5]\d\d) /.exec(`${statusLine} `) ?? [];
      if (code === undefined) return malformed(statusLine.slice(0, 40));
      const status = Number(code);
      // An interim answer (100 Continue): the real one follows.
      if (status < 200) continue;
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it.
      head = { status, headers, keepAlive: version === '1' && !/\bclose\b/i.test(headers.connection ?? '') };
      // 204 and 304 have no body whatever their headers say (a DryRun invoke answers 204).
      const bodiless = status === 204 || status === 304;
      chunked = !bodiless && /chunked/i.test(headers['transfer-encoding'] ?? '');
      const length = headers['content-length'];
      if (length !== undefined && !/^\d+$/.test(length)) return malformed(`content-length ${length}`);
      remaining = bodiless || chunked ? 0 : length === undefined ? -1 : Number(length);
    }
    if (!chunked) {
      if (remaining < 0) {
        body.push(pending);
        pending = NOTHING;
        return;
      }
      takeBody();
      if (remaining === 0) finish(head.keepAlive);
      return;
    }
    // Chunked: a hex size line, that many bytes and CRLF, …, a zero size, trailers, an empty line. A chunk's data
    // is taken as it comes (a large one arrives in many reads).
    for (;;) {
      if (remaining > 0) {
        takeBody();
        if (remaining > 0) return;
        chunkEndDue = true;
      }
      if (chunkEndDue) {
        if (pending.length < 2) return;
        if (pending[0] !== 13 || pending[1] !== 10) return malformed('no CRLF after a chunk');
        pending = pending.subarray(2);
        chunkEndDue = false;
      }
      const lineEnd = pending.indexOf('\r\n');
      if (lineEnd < 0) return;
      const sizeText = pending.subarray(0, lineEnd).toString('latin1');
      const size = /^[0-9a-f]+(;|$)/i.test(sizeText) ? Number.parseInt(sizeText, 16) : Number.NaN;
      if (Number.isNaN(size)) return malformed(`chunk size ${sizeText.slice(0, 40)}`);
      if (size > 0) {
        remaining = size;
        pending = pending.subarray(lineEnd + 2);
        continue;
      }
      // The last chunk: complete once the trailers' empty line has come.
      const trailersEnd = pending.indexOf('\r\n\r\n', lineEnd);
      if (trailersEnd < 0) return;
      return finish(head.keepAlive);
    }
  };
  socket.on('data', onData).on('error', fail).on('close', onClose);
}
